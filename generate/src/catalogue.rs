//! The catalogue: event families and their weights, names, applications, software, locations,
//! user agents, error messages and the per-service event tables.
//!
//! Tables keep one entry per row (`rustfmt::skip`) so that they read as tables. Changing a table
//! changes the output; treat such an edit like a format change.

/// Event families, each written by one method of [`Generator`](super::generator::Generator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Sso,
    UserLogin,
    AdminLogin,
    DirChange,
    SysLogin,
    SysOther,
    Radius,
    LdapBind,
    LdapSearch,
    Mdm,
    Software,
    PasswordManager,
    Saas,
    Alerts,
    ObjectStorage,
    AccessManagement,
    Reports,
    AssetManagement,
    Notifications,
}

/// Families and their weights per mille.
#[rustfmt::skip]
pub(super) const KINDS: [(Kind, u32); 19] = [
    (Kind::Sso, 255), (Kind::UserLogin, 165), (Kind::AdminLogin, 40), (Kind::DirChange, 60),
    (Kind::SysLogin, 155), (Kind::SysOther, 10), (Kind::Radius, 85), (Kind::LdapBind, 85),
    (Kind::LdapSearch, 45), (Kind::Mdm, 20), (Kind::Software, 25), (Kind::PasswordManager, 20),
    (Kind::Saas, 10), (Kind::Alerts, 5), (Kind::ObjectStorage, 5), (Kind::AccessManagement, 5),
    (Kind::Reports, 5), (Kind::AssetManagement, 3), (Kind::Notifications, 2),
];

#[rustfmt::skip]
pub(super) const FIRST: [&str; 64] = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley",
    "Steven", "Emily", "Andrew", "Michelle", "Priya", "Amanda", "Kevin", "Melissa", "Brian",
    "Stephanie", "George", "Rebecca", "Wei", "Laura", "Ahmed", "Olivia", "Kenji", "Sofia", "Lucas",
    "Emma", "Mateo", "Ava", "Noah", "Chloe", "Liam", "Grace", "Ethan", "Hannah", "Omar", "Fatima",
    "Ivan", "Anna", "Raj", "Mei", "Diego", "Nora",
];
#[rustfmt::skip]
pub(super) const LAST: [&str; 64] = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Patel", "Kim", "Chen", "Singh", "Muller", "Rossi", "Tanaka",
    "Kowalski", "Novak", "Silva", "Cohen", "Murphy", "Okafor", "Larsen",
];
/// Ranks of the users who are also the organization's administrators.
pub(super) const ADMIN_RANKS: [usize; 4] = [3, 8, 21, 55];
pub(super) const SERVICE_ACCOUNTS: [&str; 4] =
    ["svc-ldap", "svc-jira", "svc-confluence", "svc-vpn"];
/// Names that brute-force attackers try.
#[rustfmt::skip]
pub(super) const DICTIONARY: [&str; 14] = [
    "admin", "administrator", "root", "test", "guest", "user", "support", "info", "backup",
    "oracle", "postgres", "ubuntu", "jenkins", "git",
];
#[rustfmt::skip]
pub(super) const GROUPS: [&str; 12] = [
    "Engineering", "Sales", "Marketing", "Finance", "IT Admins", "Contractors", "Support", "HR",
    "All Employees", "VPN Users", "Wi-Fi Users", "Remote Workers",
];
/// Policies; the first three are conditional-access policies that sign-ins report.
#[rustfmt::skip]
pub(super) const POLICIES: [&str; 8] = [
    "Require MFA outside office", "Block high-risk countries", "Managed devices only",
    "Screensaver lock - macOS", "FileVault 2 - macOS", "BitLocker - Windows",
    "Windows Update - Windows", "Disable USB storage",
];
pub(super) const REPORTS: [&str; 3] = [
    "users to devices",
    "user login activity",
    "devices without FileVault",
];
#[rustfmt::skip]
pub(super) const COMMANDS: [&str; 6] = [
    "Install Homebrew", "Update macOS", "Restart nightly", "Collect diagnostics", "Deploy Chrome",
    "Rotate local admin password",
];

/// An SSO application: display label, catalogue name, SaaS category.
#[derive(Clone, Copy)]
pub(super) struct App(
    pub(super) &'static str,
    pub(super) &'static str,
    pub(super) &'static str,
);
#[rustfmt::skip]
pub(super) const APPS: [App; 20] = [
    App("Google Workspace", "googleapps", "Productivity"), App("Slack", "slack", "Communication"),
    App("Microsoft 365", "office365", "Productivity"), App("Zoom", "zoom", "Communication"),
    App("Atlassian Cloud", "atlassian", "Engineering"), App("GitHub Enterprise", "github", "Engineering"),
    App("Salesforce", "salesforce", "Sales"), App("AWS IAM Identity Center", "aws", "Infrastructure"),
    App("Zendesk SSO", "zendesk", "Support"), App("Box", "box", "Storage"),
    App("Dropbox Business", "dropbox", "Storage"), App("Workday", "workday", "Human Resources"),
    App("ServiceNow", "servicenow", "IT Service Management"), App("HubSpot", "hubspot", "Marketing"),
    App("DocuSign", "docusign", "Legal"), App("Figma", "figma", "Design"),
    App("Notion", "notion", "Productivity"), App("Datadog", "datadog", "Engineering"),
    App("PagerDuty", "pagerduty", "Engineering"), App("1Password", "1password", "Security"),
];

/// Installed software: name, publisher, previous version, current version, bundle id.
#[derive(Clone, Copy)]
pub(super) struct Software(
    pub(super) &'static str,
    pub(super) &'static str,
    pub(super) &'static str,
    pub(super) &'static str,
    pub(super) &'static str,
);
#[rustfmt::skip]
pub(super) const SOFTWARE: [Software; 10] = [
    Software("Google Chrome", "Google LLC", "129.0.6668.101", "130.0.6723.92", "com.google.Chrome"),
    Software("Slack", "Slack Technologies, LLC", "4.40.128", "4.41.97", "com.tinyspeck.slackmacgap"),
    Software("Zoom", "Zoom Video Communications, Inc.", "6.2.5", "6.2.7", "us.zoom.xos"),
    Software("Microsoft Teams", "Microsoft Corporation", "24243.1309", "24257.205", "com.microsoft.teams2"),
    Software("Firefox", "Mozilla", "131.0.2", "131.0.3", "org.mozilla.firefox"),
    Software("1Password", "AgileBits Inc.", "8.10.44", "8.10.46", "com.1password.1password"),
    Software("Visual Studio Code", "Microsoft Corporation", "1.94.2", "1.95.1", "com.microsoft.VSCode"),
    Software("Docker Desktop", "Docker Inc.", "4.34.3", "4.35.1", "com.docker.docker"),
    Software("Notion", "Notion Labs, Inc.", "3.16.0", "3.17.0", "notion.id"),
    Software("JumpCloud Password Manager", "JumpCloud Inc.", "2.8.1", "2.9.0", "com.jumpcloud.pwm"),
];

/// A GeoIP location and the first octets of the addresses located there.
pub(super) struct Geo {
    pub(super) continent: &'static str,
    pub(super) country: &'static str,
    pub(super) region_code: &'static str,
    pub(super) region_name: &'static str,
    pub(super) timezone: &'static str,
    pub(super) latitude: &'static str,
    pub(super) longitude: &'static str,
    /// UTC offset in minutes, for devices' `system_timestamp`.
    pub(super) offset: i32,
    pub(super) prefixes: &'static [u8],
}

#[allow(clippy::too_many_arguments)] // A row constructor for the GEOS table.
const fn geo(
    continent: &'static str,
    country: &'static str,
    region_code: &'static str,
    region_name: &'static str,
    timezone: &'static str,
    (latitude, longitude): (&'static str, &'static str),
    offset: i32,
    prefixes: &'static [u8],
) -> Geo {
    Geo {
        continent,
        country,
        region_code,
        region_name,
        timezone,
        latitude,
        longitude,
        offset,
        prefixes,
    }
}

/// Locations; entries of one country are adjacent, attacker locations come last.
#[rustfmt::skip]
pub(super) const GEOS: [Geo; 20] = [
    geo("NA", "US", "CA", "California", "America/Los_Angeles", ("37.7797", "-122.4159"), -420, &[24, 67, 73, 98, 104]),
    geo("NA", "US", "NY", "New York", "America/New_York", ("40.7128", "-74.006"), -240, &[23, 68, 69, 71, 108]),
    geo("NA", "US", "TX", "Texas", "America/Chicago", ("30.2672", "-97.7431"), -300, &[66, 70, 72, 76, 99]),
    geo("NA", "US", "CO", "Colorado", "America/Denver", ("39.7392", "-104.9903"), -360, &[50, 63, 73, 75, 97]),
    geo("NA", "US", "WA", "Washington", "America/Los_Angeles", ("47.6062", "-122.3321"), -420, &[24, 50, 67, 71, 174]),
    geo("NA", "US", "GA", "Georgia", "America/New_York", ("33.6992", "-84.7478"), -240, &[64, 65, 74, 96, 107]),
    geo("NA", "CA", "ON", "Ontario", "America/Toronto", ("43.6532", "-79.3832"), -240, &[24, 70, 99, 142, 174]),
    geo("EU", "GB", "ENG", "England", "Europe/London", ("51.5142", "-0.0931"), 60, &[2, 5, 31, 81, 86]),
    geo("EU", "IE", "L", "Leinster", "Europe/Dublin", ("53.3498", "-6.2603"), 60, &[31, 37, 78, 89, 109]),
    geo("EU", "DE", "BE", "Land Berlin", "Europe/Berlin", ("52.52", "13.405"), 120, &[31, 46, 77, 85, 91]),
    geo("EU", "FR", "IDF", "Île-de-France", "Europe/Paris", ("48.8566", "2.3522"), 120, &[37, 78, 82, 90, 92]),
    geo("EU", "NL", "NH", "North Holland", "Europe/Amsterdam", ("52.3676", "4.9041"), 120, &[31, 77, 84, 145, 213]),
    geo("AS", "IN", "MH", "Maharashtra", "Asia/Kolkata", ("19.076", "72.8777"), 330, &[27, 49, 103, 106, 117]),
    geo("AS", "SG", "01", "Central Singapore", "Asia/Singapore", ("1.2897", "103.8501"), 480, &[8, 27, 103, 116, 119]),
    geo("AS", "JP", "13", "Tokyo", "Asia/Tokyo", ("35.6895", "139.6917"), 540, &[1, 27, 60, 106, 126]),
    geo("OC", "AU", "QLD", "Queensland", "Australia/Brisbane", ("-27.658", "152.8915"), 600, &[1, 14, 49, 58, 101]),
    geo("SA", "BR", "SP", "Sao Paulo", "America/Sao_Paulo", ("-23.5505", "-46.6333"), -180, &[177, 179, 186, 187, 189]),
    geo("EU", "RU", "MOW", "Moscow", "Europe/Moscow", ("55.7558", "37.6173"), 180, &[185]),
    geo("AS", "CN", "BJ", "Beijing", "Asia/Shanghai", ("39.9042", "116.4074"), 480, &[185]),
    geo("AS", "KP", "01", "Pyongyang", "Asia/Pyongyang", ("39.0392", "125.7625"), 540, &[185]),
];
/// Locations of ordinary users; the rest are only used by attackers.
pub(super) const NORMAL_GEOS: usize = 17;
/// Home countries of the second and later organizations (the first is in the US).
pub(super) const HOMES: [&str; 12] = [
    "US", "US", "US", "GB", "DE", "CA", "AU", "IN", "NL", "FR", "JP", "BR",
];
/// Brute-force sources: last octet of 185.220.101.x and the index of their location in GEOS.
pub(super) const ATTACKERS: [(u8, usize); 4] = [(4, 17), (33, 18), (47, 19), (182, 17)];

/// Browser user agents as DI renders them today.
#[rustfmt::skip]
pub(super) const USERAGENTS: [&str; 8] = [
    r#"{"device":"Mac","major":"130","minor":"0","name":"Chrome","os":"Mac OS X","os_full":"Mac OS X 10.15.7","os_major":"10","os_minor":"15","os_name":"Mac OS X","os_patch":"7","os_version":"10.15.7","patch":"0","version":"130.0.0.0"}"#,
    r#"{"device":"Other","major":"130","minor":"0","name":"Chrome","os":"Windows","os_full":"Windows 10","os_major":"10","os_name":"Windows","os_version":"10","patch":"0","version":"130.0.0.0"}"#,
    r#"{"device":"Other","major":"130","minor":"0","name":"Edge","os":"Windows","os_full":"Windows 10","os_major":"10","os_name":"Windows","os_version":"10","patch":"2849","version":"130.0.2849.68"}"#,
    r#"{"device":"Mac","major":"18","minor":"0","name":"Safari","os":"Mac OS X","os_full":"Mac OS X 10.15.7","os_major":"10","os_minor":"15","os_name":"Mac OS X","os_patch":"7","os_version":"10.15.7","patch":"1","version":"18.0.1"}"#,
    r#"{"device":"Mac","major":"131","minor":"0","name":"Firefox","os":"Mac OS X","os_full":"Mac OS X 10.15","os_major":"10","os_minor":"15","os_name":"Mac OS X","os_version":"10.15","version":"131.0"}"#,
    r#"{"device":"Other","major":"131","minor":"0","name":"Firefox","os":"Ubuntu","os_full":"Ubuntu","os_name":"Ubuntu","version":"131.0"}"#,
    r#"{"device":"iPhone","major":"18","minor":"0","name":"Mobile Safari","os":"iOS","os_full":"iOS 18.0.1","os_major":"18","os_minor":"0","os_name":"iOS","os_patch":"1","os_version":"18.0.1","version":"18.0"}"#,
    r#"{"device":"K","major":"130","minor":"0","name":"Chrome Mobile","os":"Android","os_full":"Android 10","os_major":"10","os_name":"Android","os_version":"10","patch":"6723","version":"130.0.6723.102"}"#,
];
/// The older rendering, without `os_full`/`os_version`, which many events still carry.
#[rustfmt::skip]
pub(super) const LEGACY_USERAGENTS: [&str; 6] = [
    r#"{"build":"","device":"Other","major":"129","minor":"0","name":"Chrome","os":"Mac OS X","os_major":"10","os_minor":"15","os_name":"Mac OS X","patch":"6668"}"#,
    r#"{"build":"","device":"Other","major":"129","minor":"0","name":"Chrome","os":"Windows","os_major":"10","os_name":"Windows","patch":"6668"}"#,
    r#"{"build":"","device":"Other","major":"128","minor":"0","name":"Firefox","os":"Ubuntu","os_name":"Ubuntu"}"#,
    r#"{"build":"","device":"Other","major":"17","minor":"6","name":"Safari","os":"Mac OS X","os_major":"10","os_minor":"15","os_name":"Mac OS X"}"#,
    r#"{"build":"","device":"Other","major":"129","minor":"0","name":"Edge","os":"Windows","os_major":"10","os_name":"Windows","patch":"2792"}"#,
    r#"{"build":"","device":"iPhone","major":"17","minor":"6","name":"Mobile Safari","os":"iOS","os_major":"17","os_minor":"6","os_name":"iOS"}"#,
];
pub(super) const UA_API: &str = r#"{"device":"Other","major":"7","minor":"4","name":"PowerShell","os":"Windows","os_name":"Windows","version":"7.4"}"#;
pub(super) const UA_ATTACK: &str = r#"{"device":"Other","major":"2","minor":"31","name":"Python Requests","os":"Other","os_name":"Other","version":"2.31"}"#;

#[rustfmt::skip]
pub(super) const USER_ERRORS: [&str; 6] = [
    "invalid credentials", "invalid credentials", "mfa failed", "user locked", "password expired",
    "user not found",
];
#[rustfmt::skip]
pub(super) const SSO_ERRORS: [&str; 5] = [
    "invalid credentials", "mfa failed", "user not found",
    "user is not authorized to access this application", "SAML assertion expired",
];
pub(super) const EAP_ERROR: &str =
    "eap: Failed continuing EAP PEAP (25) session.  EAP sub-module failed";
#[rustfmt::skip]
pub(super) const RADIUS_ERRORS: [&str; 5] = [
    r#"pap: Crypt digest does not match "known good" digest"#, "invalid credentials",
    "mfa failed", "user locked", EAP_ERROR,
];
#[rustfmt::skip]
pub(super) const SYSTEM_ERRORS: [&str; 4] =
    ["invalid credentials", "user locked", "password expired", "mfa failed"];
pub(super) const MFA_TYPES: [&str; 4] = ["totp", "push", "webauthn", "duo"];

/// Who makes an admin-side change.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Who {
    /// An administrator at the console, through an API key, or automation.
    Admin,
    /// The user the event is about.
    Subject,
    System,
}

/// What an admin-side change is about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Res {
    User,
    Group,
    System,
    Policy,
    App,
    Command,
    Admin,
    Org,
}

/// A directory change: event type, weight, actor, resource, and `changes` as JSON ("" for none,
/// "*" for changes derived from the resource).
pub(super) struct DirChange(
    pub(super) &'static str,
    pub(super) u32,
    pub(super) Who,
    pub(super) Res,
    pub(super) &'static str,
);
#[rustfmt::skip]
pub(super) const DIR_CHANGES: [DirChange; 29] = [
    DirChange("user_update", 18, Who::Admin, Res::User, "*"),
    DirChange("user_update", 3, Who::Admin, Res::User, r#"[{"field":"department","from":null,"to":"Engineering"}]"#),
    DirChange("user_update", 3, Who::Admin, Res::User, r#"[{"field":"attributes","from":[],"to":[{"name":"costCenter","value":"CC-1042"}]}]"#),
    DirChange("user_update", 2, Who::Admin, Res::User, r#"[{"field":"mfa","from":{"configured":false,"exclusion":true},"to":{"configured":true,"exclusion":false}}]"#),
    DirChange("user_update", 2, Who::Admin, Res::User, r#"[{"field":"enable_user_portal_multifactor","from":false,"to":true}]"#),
    DirChange("user_update", 2, Who::Admin, Res::User, r#"[{"field":"jobTitle","from":"Engineer","to":"Senior Engineer"},{"field":"location","from":"Denver","to":"Remote"}]"#),
    DirChange("user_create", 8, Who::Admin, Res::User, "*"),
    DirChange("user_delete", 3, Who::Admin, Res::User, ""),
    DirChange("user_suspended", 4, Who::Admin, Res::User, r#"[{"field":"suspended","from":false,"to":true},{"field":"state","from":"ACTIVATED","to":"SUSPENDED"}]"#),
    DirChange("user_unsuspended", 2, Who::Admin, Res::User, r#"[{"field":"suspended","from":true,"to":false},{"field":"state","from":"SUSPENDED","to":"ACTIVATED"}]"#),
    DirChange("user_lockout", 4, Who::System, Res::User, r#"[{"field":"account_locked","from":false,"to":true}]"#),
    DirChange("user_unlocked", 2, Who::Admin, Res::User, r#"[{"field":"account_locked","from":true,"to":false}]"#),
    DirChange("user_password_change", 8, Who::Subject, Res::User, r#"[{"field":"password"}]"#),
    DirChange("user_password_expired", 2, Who::System, Res::User, ""),
    DirChange("totp_finish_enrollment", 2, Who::Subject, Res::User, r#"[{"field":"totp_enabled","from":false,"to":true}]"#),
    DirChange("group_create", 2, Who::Admin, Res::Group, "*"),
    DirChange("group_update", 5, Who::Admin, Res::Group, r#"[{"field":"attributes","from":{"sudo":{"enabled":false}},"to":{"sudo":{"enabled":true,"withoutPassword":false}}}]"#),
    DirChange("association_change", 10, Who::Admin, Res::Group, ""),
    DirChange("system_update", 3, Who::Admin, Res::System, r#"[{"field":"allowSshPasswordAuthentication","from":true,"to":false}]"#),
    DirChange("system_update", 3, Who::Admin, Res::System, r#"[{"field":"tags","from":["Engineering"],"to":["Engineering","FileVault"]}]"#),
    DirChange("system_create", 2, Who::Admin, Res::System, "*"),
    DirChange("system_delete", 1, Who::Admin, Res::System, ""),
    DirChange("policy_create", 1, Who::Admin, Res::Policy, "*"),
    DirChange("policy_update", 2, Who::Admin, Res::Policy, r#"[{"field":"values","from":[{"configFieldName":"timeout","value":300}],"to":[{"configFieldName":"timeout","value":600}]}]"#),
    DirChange("application_create", 1, Who::Admin, Res::App, "*"),
    DirChange("application_update", 2, Who::Admin, Res::App, r#"[{"field":"config","from":{"idpCertExpirationAt":"2026-01-01T00:00:00Z"},"to":{"idpCertExpirationAt":"2031-01-01T00:00:00Z"}}]"#),
    DirChange("command_run", 4, Who::Admin, Res::Command, ""),
    DirChange("admin_update", 1, Who::Admin, Res::Admin, r#"[{"field":"roleName","from":"Help Desk","to":"Administrator With Billing"}]"#),
    DirChange("organization_update", 1, Who::Admin, Res::Org, r#"[{"field":"settings.passwordPolicy","from":{"maxLoginAttempts":6,"minLength":8},"to":{"maxLoginAttempts":5,"minLength":12}}]"#),
];
/// Other device events: event type, weight, actor, resource (`Res::User` or `Res::System`).
#[rustfmt::skip]
pub(super) const SYS_OTHER: [(&str, u32, Who, Res); 8] = [
    ("user_password_change", 30, Who::Subject, Res::User), ("user_lockout", 15, Who::Subject, Res::User),
    ("system_fde_key_update", 15, Who::System, Res::System), ("os_minor_upgrade", 15, Who::System, Res::System),
    ("os_major_upgrade", 3, Who::System, Res::System), ("remote_session_start", 8, Who::Admin, Res::System),
    ("remote_session_end", 8, Who::Admin, Res::System), ("system_fde_key_decrypt", 3, Who::Admin, Res::System),
];
#[rustfmt::skip]
pub(super) const MDM_REQUESTS: [(&str, u32); 10] = [
    ("DeviceInformation", 30), ("SecurityInfo", 15), ("ProfileList", 10), ("InstallProfile", 10),
    ("InstalledApplicationList", 10), ("CertificateList", 8), ("AvailableOSUpdates", 7),
    ("ScheduleOSUpdate", 5), ("RestartDevice", 3), ("DeviceLock", 2),
];
/// MDM profiles: identifier suffix, display name, payload type.
#[rustfmt::skip]
pub(super) const PROFILES: [(&str, &str, &str); 6] = [
    ("settings", "JumpCloud MDM Settings", "MDM Settings"),
    ("policy.screensaver", "Screensaver lock", "com.apple.screensaver"),
    ("policy.filevault", "FileVault 2", "com.apple.MCX.FileVault2"),
    ("policy.firewall", "Application Firewall", "com.apple.security.firewall"),
    ("policy.wifi", "Office Wi-Fi", "com.apple.wifi.managed"),
    ("policy.chrome", "Chrome Extensions", "com.google.Chrome"),
];
pub(super) const MDM_ERROR: &str =
    "The profile “com.jumpcloud.mdm.policy.screensaver” could not be installed.";
#[rustfmt::skip]
pub(super) const SOFTWARE_EVENTS: [(&str, u32); 6] = [
    ("software_add", 35), ("software_change", 35), ("software_remove", 15),
    ("software_add_request", 7), ("software_change_request", 5), ("software_remove_request", 3),
];
#[rustfmt::skip]
pub(super) const PM_EVENTS: [(&str, u32); 10] = [
    ("passwordmanager_item_autofill", 35), ("passwordmanager_item_copy", 20),
    ("passwordmanager_item_reveal", 10), ("passwordmanager_app_unlock", 12),
    ("passwordmanager_extension_unlock", 10), ("passwordmanager_force_sync", 5),
    ("passwordmanager_folder_update", 3), ("passwordmanager_items_export", 1),
    ("passwordmanager_local_backup_create", 2), ("passwordmanager_extension_pair", 2),
];
/// SaaS management events: type, weight, actor, `detail`.
#[rustfmt::skip]
pub(super) const SAAS_EVENTS: [(&str, u32, Who, &str); 6] = [
    ("saas_management_login_event", 70, Who::Subject, "SaaS Management captured a login event."),
    ("saas_management_account_discover", 10, Who::System, "SaaS Management account discovered."),
    ("saas_management_application_discover", 8, Who::System, "SaaS Management application discovered."),
    ("saas_management_event_application_review", 4, Who::Admin, "SaaS Management application reviewed."),
    ("saas_management_application_update", 4, Who::Admin, "SaaS Management application updated."),
    ("saas_management_account_user_assign", 4, Who::Admin, "SaaS Management account has a user assigned to it."),
];
#[rustfmt::skip]
pub(super) const ALERT_EVENTS: [(&str, u32); 6] = [
    ("alert_created", 40), ("alert_status_updated", 30), ("alert_updated", 15),
    ("rule_created", 5), ("rule_modified", 7), ("rule_deleted", 3),
];
/// Alert rules: name, category, severity.
#[rustfmt::skip]
pub(super) const ALERT_RULES: [(&str, &str, &str); 4] = [
    ("Multiple failed logins", "Directory", "High"), ("Login from new country", "Directory", "Medium"),
    ("FileVault disabled", "System", "Medium"), ("Admin privileges granted", "Directory", "Low"),
];
#[rustfmt::skip]
pub(super) const STORAGE_EVENTS: [(&str, u32); 4] = [
    ("object_storage_get_download_url_request", 50), ("object_storage_create", 20),
    ("object_storage_upload_validation_result", 20), ("object_storage_delete", 10),
];
#[rustfmt::skip]
pub(super) const ACCESS_EVENTS: [(&str, u32, Who); 4] = [
    ("access_management_access_request", 40, Who::Subject),
    ("access_management_access_request_approval", 35, Who::Admin),
    ("access_management_association_change", 20, Who::System),
    ("access_management_approval_flow_update", 5, Who::Admin),
];
#[rustfmt::skip]
pub(super) const REPORT_EVENTS: [(&str, u32); 5] = [
    ("report_run", 50), ("report_export", 40), ("report_create", 5), ("report_update", 3),
    ("report_delete", 2),
];
#[rustfmt::skip]
pub(super) const ASSET_EVENTS: [(&str, u32, &str); 3] = [
    ("asset_management_asset_update", 70, "An asset has been updated in Asset Management."),
    ("asset_management_asset_create", 20, "An asset has been created in Asset Management."),
    ("asset_management_asset_delete", 10, "An asset has been deleted in Asset Management."),
];
#[rustfmt::skip]
pub(super) const NOTIFICATION_EVENTS: [(&str, u32); 3] = [
    ("notification_channel_created", 50), ("notification_channel_updated", 40),
    ("notification_channel_deleted", 10),
];
pub(super) const INSTALL_PLIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>PayloadContent</key><array><dict><key>PayloadDisplayName</key><string>Screensaver</string><key>PayloadIdentifier</key><string>com.jumpcloud.mdm.screensaver</string><key>PayloadType</key><string>com.apple.screensaver</string><key>PayloadUUID</key><string>f446d4c6-2c8d-5ee1-8bf3-a02ad2ba91c2</string><key>PayloadVersion</key><integer>1</integer><key>idleTime</key><integer>600</integer></dict></array><key>PayloadDisplayName</key><string>Screensaver lock</string><key>PayloadIdentifier</key><string>com.jumpcloud.mdm.policy.screensaver</string><key>PayloadOrganization</key><string>JumpCloud</string><key>PayloadRemovalDisallowed</key><true/><key>PayloadScope</key><string>System</string><key>PayloadType</key><string>Configuration</string><key>PayloadUUID</key><string>0d66c2d5-9231-5fd8-a644-d0f69e4be852</string><key>PayloadVersion</key><integer>1</integer></dict></plist>
"#;
