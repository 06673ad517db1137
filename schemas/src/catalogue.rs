//! The services the DI API documents.
//!
//! Events of other services and of unknown event types are stored all the same (DI adds new ones
//! over time); the catalogue is what request validation offers as valid choices.

/// Every service of the DI API's `service` enum, except the `all` wildcard.
pub const SERVICES: &[&str] = &[
    "access_management",
    "alerts",
    "asset_management",
    "directory",
    "ldap",
    "mdm",
    "notifications",
    "object_storage",
    "password_manager",
    "radius",
    "reports",
    "saas_app_management",
    "software",
    "sso",
    "systems",
];

/// Whether `service` is one the DI API documents.
pub fn is_known_service(service: &str) -> bool {
    SERVICES.contains(&service)
}
