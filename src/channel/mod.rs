//! The beta-rest HTTP connector.
