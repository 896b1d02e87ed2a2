-- Switch Account search by several words (issue 17). A search still finds
-- every membership whose names contain it, anywhere; this only finds the
-- candidates faster when the search holds more than one word.
--
-- The trigram index has to intersect the trigrams of every word searched,
-- and a word that most names share ("client" in "client 12", "hosting")
-- costs as much as the rarest: 1.2 ms a search at 5,000 accounts under
-- pgbench. But a search can only be inside the names if each of its words
-- after the first begins a word of the names: "12" is preceded by a space
-- in "client 12", so in the names it is preceded by that same space. So
-- each membership also keeps the words of its names (runs of a-z and 0-9),
-- and a text-search index finds the names with a word beginning with each
-- of those words; the exact test, the search anywhere in the names, is then
-- made on those rows only. Both sides split the same lower-cased text with
-- the same pattern, so the words never drop a membership the exact test
-- would keep.
--
-- The login is a word too ("@" and its id, which no word of a name can
-- be). Asked for by the login's word, this index is the only index to the
-- rows, so the statement can be prepared once: with `user_id = $1` beside
-- it, a generic plan assumes a login has one or two memberships and walks
-- all 5,000 of a reseller's. Adding the column rewrites the table once.

CREATE FUNCTION login_word(login uuid) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN '@' || login::text;

-- The login's word and the words of the membership's names, as text-search
-- lexemes taken as they are (no dictionary, no stemming).
CREATE FUNCTION membership_words(login uuid, names text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN array_to_tsvector(array_prepend(login_word(login),
    string_to_array(trim(regexp_replace(names, '[^a-z0-9]+', ' ', 'g')), ' ')));

-- The login's memberships whose names have a word beginning with each word
-- of the search but one at its very start (that one may end a longer word:
-- "lient 12" is inside "client 12"); the login's memberships alone when
-- the search has no other word. A word of one letter or digit is left out:
-- the index would gather every word of the installation that begins with
-- it before narrowing to the login, and leaving a word out only widens
-- what the exact test is then run on. Not STRICT, unlike the two above:
-- with coalesce in it, Postgres would then not inline it into the
-- statement, and run it through the SQL function machinery every time.
CREATE FUNCTION membership_words_query(login uuid, search text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(
    ('''' || login_word(login) || '''')::tsquery
        && (replace(nullif(trim(regexp_replace(regexp_replace(
                regexp_replace(regexp_replace(lower(search), '^[a-z0-9]+', ''), '[^a-z0-9]+', ' ', 'g'),
                '\m[a-z0-9]\M', '', 'g'), ' +', ' ', 'g')), ''),
            ' ', ':* & ') || ':*')::tsquery,
    ('''' || login_word(login) || '''')::tsquery);

-- Stored, so the words are split once when the names change, not on every
-- search; kept by the triggers of migration 16, which write `search`.
ALTER TABLE memberships ADD COLUMN search_words tsvector GENERATED ALWAYS AS (membership_words(user_id, search)) STORED;
-- Without the pending list, as for the trigram index (migration 16).
CREATE INDEX memberships_search_words ON memberships USING gin (search_words) WITH (fastupdate = off);
