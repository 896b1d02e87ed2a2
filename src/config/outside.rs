//! The outside systems the panel does not own (payment gateway, control
//! panel, registrar) as configuration chooses them.

use std::sync::Arc;

use super::{bad, ConfigError};

/// The outside systems the panel does not own, each chosen by a setting
/// (`PAYMENT_GATEWAY`, `CONTROL_PANEL`, `REGISTRAR`); `None` means the
/// provider has not connected one, and its actions are refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutsideSystems {
    pub payment_gateway: Option<PaymentGatewayKind>,
    pub control_panel: Option<ControlPanelKind>,
    pub registrar: Option<RegistrarKind>,
    /// Stand-ins chosen outside the quick start: every signed-in page says
    /// so in this banner, so nobody mistakes them for the real thing.
    banner: Option<Arc<str>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentGatewayKind {
    /// `TestGateway`: approves every charge; no money moves.
    Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlPanelKind {
    /// `LocalControlPanel`: logins and sign-on in Postgres.
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrarKind {
    /// `LocalRegistrar`: the domain rows are its registry.
    Local,
}

impl OutsideSystems {
    pub(super) fn new(
        payment_gateway: Option<PaymentGatewayKind>,
        control_panel: Option<ControlPanelKind>,
        registrar: Option<RegistrarKind>,
        quick_start: bool,
    ) -> OutsideSystems {
        let stand_ins: Vec<&str> = [
            payment_gateway.map(|_| "Test payment gateway: no money moves."),
            control_panel.map(|_| "Built-in control panel: no real hosting account changes."),
            registrar.map(|_| "Built-in registrar: no real domain changes."),
        ]
        .into_iter()
        .flatten()
        .collect();
        let banner = (!quick_start && !stand_ins.is_empty()).then(|| Arc::from(stand_ins.join(" ")));
        OutsideSystems { payment_gateway, control_panel, registrar, banner }
    }

    /// One line per system for the server's start-up output.
    pub fn startup_lines(&self) -> [String; 3] {
        let line = |what: &str, var: &str, active: Option<&str>| match active {
            Some(name) => format!("{what}: {name} ({var})"),
            None => format!("{what}: none, not connected ({var}); its actions are refused"),
        };
        [
            line(
                "Payment gateway",
                "PAYMENT_GATEWAY",
                self.payment_gateway.map(|_| "built-in test gateway, no money moves"),
            ),
            line("Control panel", "CONTROL_PANEL", self.control_panel.map(|_| "built-in stand-in")),
            line("Registrar", "REGISTRAR", self.registrar.map(|_| "built-in stand-in")),
        ]
    }

    /// The banner shown on every signed-in page when stand-ins run outside
    /// the quick start.
    pub fn notice(&self) -> Option<&Arc<str>> {
        self.banner.as_ref()
    }
}

/// An outside system's setting: `stand_in_name` (the built-in stand-in) or
/// `none`; unset, the stand-in only in the quick start.
pub(super) fn choice<T: Copy>(
    get: &impl Fn(&str) -> Option<String>,
    var: &str,
    stand_in_name: &str,
    stand_in: T,
    quick_start: bool,
) -> Result<Option<T>, ConfigError> {
    match get(var).as_deref() {
        None => Ok(quick_start.then_some(stand_in)),
        Some("none") => Ok(None),
        Some(v) if v == stand_in_name => Ok(Some(stand_in)),
        Some(_) => Err(bad(var, &format!("must be {stand_in_name} or none"))),
    }
}
