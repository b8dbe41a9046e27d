//! [`Error`]: every module's error gathered into one, as str0m does, for
//! code that crosses modules (the server's assembly, a library user).
//! Each module keeps its own enum, which says exactly what can go wrong
//! there; this one only collects them, and
//! [`ApiError`](crate::api::ApiError) maps it to HTTP in one place
//! (`From<hotline::Error>`).

use crate::ivr::Diagnostic;

/// Any error of hotline's modules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Boxed: start-up's errors are large and rare.
    #[error(transparent)]
    Server(Box<crate::server::ServerError>),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Register(#[from] crate::appeal::RegisterError),
    #[error(transparent)]
    Classifier(#[from] crate::appeal::classifier::ClassifierError),
    #[error(transparent)]
    Attachment(#[from] crate::appeal::attachments::AttachmentError),
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
    #[error(transparent)]
    Prompt(#[from] crate::media::PromptError),
    #[error("the IVR scripts have errors:\n{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Ivr(Vec<Diagnostic>),
    #[error(transparent)]
    QueueConfig(#[from] crate::queue::ConfigError),
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
    #[error(transparent)]
    Router(#[from] crate::queue::RouterError),
    #[error(transparent)]
    QueueService(#[from] crate::queue::service::ServiceError),
    #[error(transparent)]
    Sdp(#[from] crate::sdp::SdpError),
    #[error(transparent)]
    Wire(#[from] crate::sip::wire::WireError),
    #[error(transparent)]
    Message(#[from] crate::sip::msg::MessageError),
    #[error(transparent)]
    Digest(#[from] crate::sip::digest::DigestError),
    #[error(transparent)]
    Endpoint(#[from] crate::sip::endpoint::EndpointError),
    #[error(transparent)]
    Ports(#[from] crate::rtp::ports::PortError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

impl From<crate::server::ServerError> for Error {
    fn from(e: crate::server::ServerError) -> Error {
        Error::Server(Box::new(e))
    }
}

impl From<Vec<Diagnostic>> for Error {
    fn from(diagnostics: Vec<Diagnostic>) -> Error {
        Error::Ivr(diagnostics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_errors_convert_and_keep_their_message() {
        fn fails() -> Result<(), Error> {
            Err(crate::store::StoreError::Invalid {
                field: "login",
                reason: "spaces are not allowed".into(),
            })?
        }
        let e = fails().unwrap_err();
        assert!(matches!(e, Error::Store(_)));
        assert_eq!(e.to_string(), "invalid login: spaces are not allowed");
    }
}
