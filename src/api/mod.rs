//! The JSON API under `/api`: sign-in and sessions ([`auth`]), queues and
//! operators' states ([`queues`]); the console's websocket ([`console`]). Every route but sign-in needs a session
//! and checks the role.

pub mod appeals;
pub mod auth;
pub mod calls;
pub mod console;
pub mod queues;
