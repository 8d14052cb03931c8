//! `aviary daemon`: the scheduler loop, hot reload, retention and graceful drain.
