//! Retell AI's side of the wire, free of HTTP framework and of our use cases: the payloads we
//! receive ([`payload`]), the signature scheme ([`signature`]), what the agent says
//! ([`speech`]) and the client for Retell's own API ([`send`]). The handlers that take
//! Retell's requests are adapters in `src/http/retell`.

pub mod payload;
pub mod send;
pub mod signature;
pub mod speech;
