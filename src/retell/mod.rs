//! Retell AI: signature verification.
pub mod signature;
