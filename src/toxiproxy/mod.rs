//! The toxiproxy v2 HTTP API: its data model ([`model`]) and a strict async client ([`client`]).
//!
//! The same model types are what the built-in server ([`crate::proxy`]) reads and writes, so the
//! client and the server agree on the wire format by construction, and both agree with Shopify's
//! toxiproxy 2.x.

pub mod client;
pub mod model;

pub use client::{Client, Error};
pub use model::{
    NewProxy, Proxy, ProxyUpdate, Stream, Toxic, ToxicAttributes, ToxicType, ToxicUpdate, Version,
};
