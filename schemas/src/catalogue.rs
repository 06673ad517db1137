//! The services the DI API documents, and where each name comes from.
//!
//! Events of other services and of unknown event types are stored all the same (DI adds new ones
//! over time); the catalogue is what request validation offers as valid choices.

/// Where a service name is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceSource {
    /// The `service` enum of JumpCloud's published Swagger description of the DI API
    /// (`JumpCloud.SDK.DirectoryInsights.json`).
    ApiSpec,
    /// The services JumpCloud's own DI serverless application (3.2.0,
    /// `get-jcdirectoryinsights.py`, `availableServices`) asks for, beyond the spec's.
    ServerlessApp,
}

/// A service of the DI API and where its name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    pub source: ServiceSource,
}

const fn spec(name: &'static str) -> Service {
    Service {
        name,
        source: ServiceSource::ApiSpec,
    }
}

/// Every service a request may name, except the `all` wildcard.
pub const SERVICE_CATALOGUE: &[Service] = &[
    spec("access_management"),
    spec("alerts"),
    spec("asset_management"),
    spec("directory"),
    spec("ldap"),
    spec("mdm"),
    spec("notifications"),
    spec("object_storage"),
    spec("password_manager"),
    spec("radius"),
    spec("reports"),
    spec("saas_app_management"),
    spec("software"),
    spec("sso"),
    spec("systems"),
    Service {
        name: "workflows",
        source: ServiceSource::ServerlessApp,
    },
];

/// The names of [`SERVICE_CATALOGUE`], in its order.
pub fn service_names() -> impl Iterator<Item = &'static str> {
    SERVICE_CATALOGUE.iter().map(|service| service.name)
}

/// Whether `service` is one the DI API documents.
pub fn is_known_service(service: &str) -> bool {
    service_names().any(|name| name == service)
}

/// Top-level fields that the DI guide documents for some service, plus the fields every event
/// carries. `fields` in a request must name at least one (as DI answers 400 otherwise).
pub const KNOWN_FIELDS: &[&str] = &[
    "@version",
    "access_request_id",
    "app_management_source",
    "application",
    "association",
    "attr",
    "auth_context",
    "auth_meta",
    "auth_method",
    "auth_type",
    "base",
    "category",
    "changes",
    "channel_object_id",
    "client_ip",
    "command",
    "command_uuid",
    "config",
    "connection_id",
    "correlation",
    "deref",
    "description",
    "detail",
    "device_manager_object_id",
    "device_object_id",
    "dn",
    "eap_type",
    "error_chain",
    "error_code",
    "error_message",
    "event_type",
    "filter",
    "geoip",
    "id",
    "idm_client_id",
    "idp_initiated",
    "initiated_by",
    "mdm_type",
    "mech",
    "message",
    "message_chain",
    "mfa",
    "mfa_meta",
    "name",
    "nas_mfa_state",
    "number_of_results",
    "object_storage_create",
    "object_storage_delete",
    "object_storage_item_object_id",
    "object_storage_item_version_name",
    "object_storage_item_version_object_id",
    "object_storage_item_version_sha_256_sum",
    "object_storage_item_version_size",
    "oid",
    "operation_number",
    "organization",
    "outer",
    "pid",
    "process_name",
    "provider",
    "referrer_object_id",
    "referrer_type",
    "request_type",
    "resource",
    "result",
    "scope",
    "service",
    "severity",
    "src_ip",
    "start_tls",
    "status",
    "success",
    "system",
    "system_group",
    "system_object_id",
    "target_resource",
    "tls_established",
    "total_software_item_count",
    "total_space_used",
    "type",
    "user_agent",
    "useragent",
    "username",
    "windows_device_uuid",
    "windows_meta",
    "workflow",
    "timestamp",
    "sso_token_success",
    "mdm_device_id",
    "mdm_device_manager_id",
    "payload_verion",
    "system_timestamp",
    "sso_idp",
    "email",
    "user",
];

/// Whether a dot path starts with a known top-level field.
pub fn is_known_field(path: &str) -> bool {
    let top = path.split('.').next().unwrap_or(path);
    KNOWN_FIELDS.contains(&top)
}
