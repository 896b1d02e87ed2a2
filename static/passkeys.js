// Passkeys need the browser's WebAuthn API: this is the panel's one script.
// Each form it drives (data-passkey="add" or "get") stays hidden until it
// runs, so without JavaScript the panel simply works with passwords and
// authenticator codes. Loaded from /static under the panel's CSP.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !window.fetch) {
    return;
  }

  function toBuffer(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var binary = atob(s);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The server's options leave unset fields as null; browsers want them absent.
  function withoutNulls(value) {
    if (Array.isArray(value)) {
      return value.map(withoutNulls);
    }
    if (value && typeof value === "object") {
      var out = {};
      Object.keys(value).forEach(function (key) {
        if (value[key] !== null) {
          out[key] = withoutNulls(value[key]);
        }
      });
      return out;
    }
    return value;
  }

  function creationOptions(json) {
    var pk = withoutNulls(json.publicKey);
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return { publicKey: pk };
  }

  function requestOptions(json) {
    var pk = withoutNulls(json.publicKey);
    pk.challenge = toBuffer(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return { publicKey: pk };
  }

  function registrationJson(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toText(r.attestationObject),
        clientDataJSON: toText(r.clientDataJSON),
        transports: r.getTransports ? r.getTransports() : []
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  function assertionJson(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toText(r.authenticatorData),
        clientDataJSON: toText(r.clientDataJSON),
        signature: toText(r.signature),
        userHandle: r.userHandle ? toText(r.userHandle) : null
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  // The panel answers a refusal with its error page: show its message.
  function problem(response) {
    return response.text().then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      var message = page.querySelector(".error-message, .error");
      return (message && message.textContent.trim()) || "That did not work (" + response.status + ").";
    });
  }

  function post(url, fields) {
    return fetch(url, { method: "POST", body: new URLSearchParams(fields), credentials: "same-origin" });
  }

  function drive(form) {
    var adding = form.dataset.passkey === "add";
    var error = form.querySelector("[data-passkey-error]");
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      var fields = new FormData(form);
      var source = form.dataset.emailFrom && document.querySelector(form.dataset.emailFrom);
      if (source) {
        fields.set("email", source.value);
      }
      post(form.action, fields)
        .then(function (start) {
          if (!start.ok) {
            return problem(start).then(function (m) { throw new Error(m); });
          }
          return start.json();
        })
        .then(function (options) {
          return adding
            ? navigator.credentials.create(creationOptions(options)).then(registrationJson)
            : navigator.credentials.get(requestOptions(options)).then(assertionJson);
        })
        .then(function (credential) {
          var answer = { csrf_token: fields.get("csrf_token"), credential: JSON.stringify(credential) };
          return post(form.dataset.finish, answer);
        })
        .then(function (done) {
          if (!done.ok) {
            return problem(done).then(function (m) { throw new Error(m); });
          }
          window.location.assign(done.url);
        })
        .catch(function (e) {
          error.textContent = e.message || String(e);
          error.className = "error";
          error.hidden = false;
        });
    });
  }

  document.querySelectorAll("form[data-passkey]").forEach(drive);
  document.querySelectorAll("[data-needs-script]").forEach(function (el) { el.hidden = true; });
})();
