//! One run of a canary.
