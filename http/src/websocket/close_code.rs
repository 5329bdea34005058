//! Close codes (RFC 6455, 7.4) with Qt's names (`QWebSocketProtocol::CloseCode`).

/// A WebSocket close code (Qt's `QWebSocketProtocol::CloseCode`; RFC 6455, 7.4.1). Codes
/// without a Qt name (the IANA registry's 1012 to 1014, application codes 3000 to 4999)
/// are carried by [`CloseCode::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// 1000: normal closure (`CloseCodeNormal`).
    Normal,
    /// 1001: the endpoint goes away (`CloseCodeGoingAway`).
    GoingAway,
    /// 1002: protocol error (`CloseCodeProtocolError`).
    ProtocolError,
    /// 1003: a data type the endpoint cannot accept (`CloseCodeDatatypeNotSupported`).
    DatatypeNotSupported,
    /// 1004: reserved (`CloseCodeReserved1004`); never sent.
    Reserved1004,
    /// 1005: no code was given (`CloseCodeMissingStatusCode`); never sent.
    MissingStatusCode,
    /// 1006: closed without a close frame (`CloseCodeAbnormalDisconnection`); never sent.
    AbnormalDisconnection,
    /// 1007: data inconsistent with the message type, e.g. invalid UTF-8 in a text message
    /// (`CloseCodeWrongDatatype`).
    WrongDatatype,
    /// 1008: policy violated (`CloseCodePolicyViolated`).
    PolicyViolated,
    /// 1009: a message too big to process (`CloseCodeTooMuchData`).
    TooMuchData,
    /// 1010: the client needed an extension the server did not negotiate
    /// (`CloseCodeMissingExtension`).
    MissingExtension,
    /// 1011: the server met an unexpected condition (`CloseCodeBadOperation`).
    BadOperation,
    /// 1015: the TLS handshake failed (`CloseCodeTlsHandshakeFailed`); never sent.
    TlsHandshakeFailed,
    /// Any other code (1012 to 1014, 3000 to 4999, or an invalid one received).
    Other(u16),
}

impl CloseCode {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::ProtocolError => 1002,
            CloseCode::DatatypeNotSupported => 1003,
            CloseCode::Reserved1004 => 1004,
            CloseCode::MissingStatusCode => 1005,
            CloseCode::AbnormalDisconnection => 1006,
            CloseCode::WrongDatatype => 1007,
            CloseCode::PolicyViolated => 1008,
            CloseCode::TooMuchData => 1009,
            CloseCode::MissingExtension => 1010,
            CloseCode::BadOperation => 1011,
            CloseCode::TlsHandshakeFailed => 1015,
            CloseCode::Other(code) => code,
        }
    }

    /// Qt's name (`"CloseCodeNormal"`), or the number for codes Qt does not name.
    pub fn name(self) -> String {
        let name = match self {
            CloseCode::Normal => "CloseCodeNormal",
            CloseCode::GoingAway => "CloseCodeGoingAway",
            CloseCode::ProtocolError => "CloseCodeProtocolError",
            CloseCode::DatatypeNotSupported => "CloseCodeDatatypeNotSupported",
            CloseCode::Reserved1004 => "CloseCodeReserved1004",
            CloseCode::MissingStatusCode => "CloseCodeMissingStatusCode",
            CloseCode::AbnormalDisconnection => "CloseCodeAbnormalDisconnection",
            CloseCode::WrongDatatype => "CloseCodeWrongDatatype",
            CloseCode::PolicyViolated => "CloseCodePolicyViolated",
            CloseCode::TooMuchData => "CloseCodeTooMuchData",
            CloseCode::MissingExtension => "CloseCodeMissingExtension",
            CloseCode::BadOperation => "CloseCodeBadOperation",
            CloseCode::TlsHandshakeFailed => "CloseCodeTlsHandshakeFailed",
            CloseCode::Other(code) => return code.to_string(),
        };
        name.to_owned()
    }

    /// Whether an endpoint may put this code in a close frame (RFC 6455, 7.4): 1000 to
    /// 1003, 1007 to 1014 (IANA's registry), 3000 to 4999. 1004 to 1006 and 1015 only
    /// describe a close locally.
    pub fn may_be_sent(self) -> bool {
        matches!(self.code(), 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        match code {
            1000 => CloseCode::Normal,
            1001 => CloseCode::GoingAway,
            1002 => CloseCode::ProtocolError,
            1003 => CloseCode::DatatypeNotSupported,
            1004 => CloseCode::Reserved1004,
            1005 => CloseCode::MissingStatusCode,
            1006 => CloseCode::AbnormalDisconnection,
            1007 => CloseCode::WrongDatatype,
            1008 => CloseCode::PolicyViolated,
            1009 => CloseCode::TooMuchData,
            1010 => CloseCode::MissingExtension,
            1011 => CloseCode::BadOperation,
            1015 => CloseCode::TlsHandshakeFailed,
            other => CloseCode::Other(other),
        }
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_only_sendable_ones_may_be_sent() {
        for code in 0..=5000u16 {
            assert_eq!(CloseCode::from(code).code(), code);
        }
        assert!(CloseCode::Normal.may_be_sent());
        assert!(CloseCode::Other(1012).may_be_sent());
        assert!(CloseCode::Other(4999).may_be_sent());
        for never in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!CloseCode::from(never).may_be_sent(), "{never}");
        }
        assert_eq!(CloseCode::TooMuchData.name(), "CloseCodeTooMuchData");
    }
}
