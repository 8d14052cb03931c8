//! The HTTP client for API steps and link checks: timing phases and HAR entries.
