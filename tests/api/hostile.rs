//! Hostile input: each gets a clear 4xx page, writes nothing, and leaves the server unharmed.
