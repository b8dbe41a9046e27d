//! The JSON API under `/api`. Sign-in and roles come with the console
//! (issue 5); until then the API listens where `[http] listen` says, which
//! by default is loopback only.

pub mod queues;
