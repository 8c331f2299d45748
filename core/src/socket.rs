//! placeholder
pub trait ReadTimeout {}
pub struct SslSocket;
