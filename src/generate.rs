//! Synthetic JumpCloud Directory Insights events for `insights generate`.
//!
//! [`generate`] writes NDJSON shaped like what the DI API returns, for demos, load tests and
//! benchmarks. Sign-ins (User Portal, SSO applications, devices, RADIUS, LDAP) dominate; admin
//! changes, MDM command results, software and the smaller services fill in the rest. The output
//! keeps the quirks of real events that the DI API reference leaves out: `sso_auth` carries
//! `sso_token_success` and no `success`, `radius_auth_attempt` ids are upper-case UUIDs,
//! timestamps have 0, 3, 6, 8 or 9 fractional digits, `changes[].from/to` take any JSON type,
//! MDM events use `mdm_device_id` and the misspelled `payload_verion` (some are several KB),
//! `provider` is `null` in some services and `""` in others, `user_agent` replaces `useragent`
//! in some services, and `auth_method` includes `"api key"` and `"other"`.
//!
//! Users, hosts and client IPs are Zipf-distributed per organization; their attributes are
//! derived by hashing (organization, rank), so no per-organization tables are kept. Events are
//! spread evenly over the days and emitted in time order, except ~1% that arrive 1–30 minutes
//! late. Brute-force bursts (20–200 failed sign-ins from 185.220.101.x within ~2 minutes) are
//! merged into the stream.
//!
//! The output is a pure function of [`GenerateOptions`]: a self-contained xoshiro256**
//! generator, Zipf weights computed with `sqrt` only (correctly rounded, so the same bits on
//! every platform) and hand-written formatting keep the bytes identical across runs and
//! releases. Changing a table or the order of draws here changes the output; treat such an
//! edit like a format change.

use std::fmt::{self, Write as _};
use std::io::{self, Write};

use chrono::{NaiveDate, NaiveTime};

/// Options of `insights generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of events (lines) to write.
    pub events: u64,
    /// Days covered from `start` 00:00 UTC (taken as at least 1 and at most 36,500).
    pub days: u32,
    /// Distinct organizations (taken as at least 1 and at most 100,000); the first is busiest.
    pub orgs: u32,
    /// Seed of the pseudo-random generator.
    pub seed: u64,
    /// First day covered.
    pub start: NaiveDate,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            events: 10_000,
            days: 30,
            orgs: 1,
            seed: 42,
            start: DEFAULT_START,
        }
    }
}

const DEFAULT_START: NaiveDate = match NaiveDate::from_ymd_opt(2026, 10, 1) {
    Some(date) => date,
    None => panic!("invalid default start date"),
};

/// Writes `opts.events` NDJSON lines (one DI event per line, '\n'-terminated) to `out`; returns
/// how many were written.
pub fn generate(opts: &GenerateOptions, out: &mut dyn Write) -> io::Result<u64> {
    let mut generator = Generator::new(opts)?;
    let mut chunk = Vec::with_capacity(CHUNK + 64 * 1024);
    for _ in 0..opts.events {
        generator.event(&mut chunk);
        if chunk.len() >= CHUNK {
            out.write_all(&chunk)?;
            chunk.clear();
        }
    }
    out.write_all(&chunk)?;
    out.flush()?;
    Ok(opts.events)
}

const NS: i64 = 1_000_000_000;
/// Bytes collected before each write to the caller's writer.
const CHUNK: usize = 1 << 20;
const MAX_DAYS: u32 = 36_500;
const MAX_ORGS: u32 = 100_000;
const USERS: usize = 2_000;
const HOSTS: usize = 500;
const IPS: usize = 3_000;
/// Share of events that arrive 1–30 minutes late, per 10,000.
const LATE_PER_10K: u64 = 100;
/// Share of ordinary sign-ins that fail, per 10,000 (bursts add their own failures).
const FAIL_PER_10K: u64 = 380;

// ---------------------------------------------------------------------------------------------
// Catalogue. Tables keep one entry per row (`rustfmt::skip`) so that they read as tables.
// ---------------------------------------------------------------------------------------------

/// Event families, each written by one method of [`Generator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
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
const KINDS: [(Kind, u32); 19] = [
    (Kind::Sso, 255), (Kind::UserLogin, 165), (Kind::AdminLogin, 40), (Kind::DirChange, 60),
    (Kind::SysLogin, 155), (Kind::SysOther, 10), (Kind::Radius, 85), (Kind::LdapBind, 85),
    (Kind::LdapSearch, 45), (Kind::Mdm, 20), (Kind::Software, 25), (Kind::PasswordManager, 20),
    (Kind::Saas, 10), (Kind::Alerts, 5), (Kind::ObjectStorage, 5), (Kind::AccessManagement, 5),
    (Kind::Reports, 5), (Kind::AssetManagement, 3), (Kind::Notifications, 2),
];

#[rustfmt::skip]
const FIRST: [&str; 64] = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley",
    "Steven", "Emily", "Andrew", "Michelle", "Priya", "Amanda", "Kevin", "Melissa", "Brian",
    "Stephanie", "George", "Rebecca", "Wei", "Laura", "Ahmed", "Olivia", "Kenji", "Sofia", "Lucas",
    "Emma", "Mateo", "Ava", "Noah", "Chloe", "Liam", "Grace", "Ethan", "Hannah", "Omar", "Fatima",
    "Ivan", "Anna", "Raj", "Mei", "Diego", "Nora",
];
#[rustfmt::skip]
const LAST: [&str; 64] = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Patel", "Kim", "Chen", "Singh", "Muller", "Rossi", "Tanaka",
    "Kowalski", "Novak", "Silva", "Cohen", "Murphy", "Okafor", "Larsen",
];
/// Ranks of the users who are also the organization's administrators.
const ADMIN_RANKS: [usize; 4] = [3, 8, 21, 55];
const SERVICE_ACCOUNTS: [&str; 4] = ["svc-ldap", "svc-jira", "svc-confluence", "svc-vpn"];
/// Names that brute-force attackers try.
#[rustfmt::skip]
const DICTIONARY: [&str; 14] = [
    "admin", "administrator", "root", "test", "guest", "user", "support", "info", "backup",
    "oracle", "postgres", "ubuntu", "jenkins", "git",
];
#[rustfmt::skip]
const GROUPS: [&str; 12] = [
    "Engineering", "Sales", "Marketing", "Finance", "IT Admins", "Contractors", "Support", "HR",
    "All Employees", "VPN Users", "Wi-Fi Users", "Remote Workers",
];
/// Policies; the first three are conditional-access policies that sign-ins report.
#[rustfmt::skip]
const POLICIES: [&str; 8] = [
    "Require MFA outside office", "Block high-risk countries", "Managed devices only",
    "Screensaver lock - macOS", "FileVault 2 - macOS", "BitLocker - Windows",
    "Windows Update - Windows", "Disable USB storage",
];
const REPORTS: [&str; 3] = [
    "users to devices",
    "user login activity",
    "devices without FileVault",
];
#[rustfmt::skip]
const COMMANDS: [&str; 6] = [
    "Install Homebrew", "Update macOS", "Restart nightly", "Collect diagnostics", "Deploy Chrome",
    "Rotate local admin password",
];

/// An SSO application: display label, catalogue name, SaaS category.
#[derive(Clone, Copy)]
struct App(&'static str, &'static str, &'static str);
#[rustfmt::skip]
const APPS: [App; 20] = [
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
struct Software(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);
#[rustfmt::skip]
const SOFTWARE: [Software; 10] = [
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
struct Geo {
    continent: &'static str,
    country: &'static str,
    region_code: &'static str,
    region_name: &'static str,
    timezone: &'static str,
    latitude: &'static str,
    longitude: &'static str,
    /// UTC offset in minutes, for devices' `system_timestamp`.
    offset: i32,
    prefixes: &'static [u8],
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
const GEOS: [Geo; 20] = [
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
const NORMAL_GEOS: usize = 17;
/// Home countries of the second and later organizations (the first is in the US).
const HOMES: [&str; 12] = [
    "US", "US", "US", "GB", "DE", "CA", "AU", "IN", "NL", "FR", "JP", "BR",
];
/// Brute-force sources: last octet of 185.220.101.x and the index of their location in GEOS.
const ATTACKERS: [(u8, usize); 4] = [(4, 17), (33, 18), (47, 19), (182, 17)];

/// Browser user agents as DI renders them today.
#[rustfmt::skip]
const USERAGENTS: [&str; 8] = [
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
const LEGACY_USERAGENTS: [&str; 6] = [
    r#"{"build":"","device":"Other","major":"129","minor":"0","name":"Chrome","os":"Mac OS X","os_major":"10","os_minor":"15","os_name":"Mac OS X","patch":"6668"}"#,
    r#"{"build":"","device":"Other","major":"129","minor":"0","name":"Chrome","os":"Windows","os_major":"10","os_name":"Windows","patch":"6668"}"#,
    r#"{"build":"","device":"Other","major":"128","minor":"0","name":"Firefox","os":"Ubuntu","os_name":"Ubuntu"}"#,
    r#"{"build":"","device":"Other","major":"17","minor":"6","name":"Safari","os":"Mac OS X","os_major":"10","os_minor":"15","os_name":"Mac OS X"}"#,
    r#"{"build":"","device":"Other","major":"129","minor":"0","name":"Edge","os":"Windows","os_major":"10","os_name":"Windows","patch":"2792"}"#,
    r#"{"build":"","device":"iPhone","major":"17","minor":"6","name":"Mobile Safari","os":"iOS","os_major":"17","os_minor":"6","os_name":"iOS"}"#,
];
const UA_API: &str = r#"{"device":"Other","major":"7","minor":"4","name":"PowerShell","os":"Windows","os_name":"Windows","version":"7.4"}"#;
const UA_ATTACK: &str = r#"{"device":"Other","major":"2","minor":"31","name":"Python Requests","os":"Other","os_name":"Other","version":"2.31"}"#;

#[rustfmt::skip]
const USER_ERRORS: [&str; 6] = [
    "invalid credentials", "invalid credentials", "mfa failed", "user locked", "password expired",
    "user not found",
];
#[rustfmt::skip]
const SSO_ERRORS: [&str; 5] = [
    "invalid credentials", "mfa failed", "user not found",
    "user is not authorized to access this application", "SAML assertion expired",
];
const EAP_ERROR: &str = "eap: Failed continuing EAP PEAP (25) session.  EAP sub-module failed";
#[rustfmt::skip]
const RADIUS_ERRORS: [&str; 5] = [
    r#"pap: Crypt digest does not match "known good" digest"#, "invalid credentials",
    "mfa failed", "user locked", EAP_ERROR,
];
#[rustfmt::skip]
const SYSTEM_ERRORS: [&str; 4] =
    ["invalid credentials", "user locked", "password expired", "mfa failed"];
const MFA_TYPES: [&str; 4] = ["totp", "push", "webauthn", "duo"];

/// Who makes an admin-side change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    /// An administrator at the console, through an API key, or automation.
    Admin,
    /// The user the event is about.
    Subject,
    System,
}

/// What an admin-side change is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Res {
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
struct DirChange(&'static str, u32, Who, Res, &'static str);
#[rustfmt::skip]
const DIR_CHANGES: [DirChange; 29] = [
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
const SYS_OTHER: [(&str, u32, Who, Res); 8] = [
    ("user_password_change", 30, Who::Subject, Res::User), ("user_lockout", 15, Who::Subject, Res::User),
    ("system_fde_key_update", 15, Who::System, Res::System), ("os_minor_upgrade", 15, Who::System, Res::System),
    ("os_major_upgrade", 3, Who::System, Res::System), ("remote_session_start", 8, Who::Admin, Res::System),
    ("remote_session_end", 8, Who::Admin, Res::System), ("system_fde_key_decrypt", 3, Who::Admin, Res::System),
];
#[rustfmt::skip]
const MDM_REQUESTS: [(&str, u32); 10] = [
    ("DeviceInformation", 30), ("SecurityInfo", 15), ("ProfileList", 10), ("InstallProfile", 10),
    ("InstalledApplicationList", 10), ("CertificateList", 8), ("AvailableOSUpdates", 7),
    ("ScheduleOSUpdate", 5), ("RestartDevice", 3), ("DeviceLock", 2),
];
/// MDM profiles: identifier suffix, display name, payload type.
#[rustfmt::skip]
const PROFILES: [(&str, &str, &str); 6] = [
    ("settings", "JumpCloud MDM Settings", "MDM Settings"),
    ("policy.screensaver", "Screensaver lock", "com.apple.screensaver"),
    ("policy.filevault", "FileVault 2", "com.apple.MCX.FileVault2"),
    ("policy.firewall", "Application Firewall", "com.apple.security.firewall"),
    ("policy.wifi", "Office Wi-Fi", "com.apple.wifi.managed"),
    ("policy.chrome", "Chrome Extensions", "com.google.Chrome"),
];
const MDM_ERROR: &str =
    "The profile “com.jumpcloud.mdm.policy.screensaver” could not be installed.";
#[rustfmt::skip]
const SOFTWARE_EVENTS: [(&str, u32); 6] = [
    ("software_add", 35), ("software_change", 35), ("software_remove", 15),
    ("software_add_request", 7), ("software_change_request", 5), ("software_remove_request", 3),
];
#[rustfmt::skip]
const PM_EVENTS: [(&str, u32); 10] = [
    ("passwordmanager_item_autofill", 35), ("passwordmanager_item_copy", 20),
    ("passwordmanager_item_reveal", 10), ("passwordmanager_app_unlock", 12),
    ("passwordmanager_extension_unlock", 10), ("passwordmanager_force_sync", 5),
    ("passwordmanager_folder_update", 3), ("passwordmanager_items_export", 1),
    ("passwordmanager_local_backup_create", 2), ("passwordmanager_extension_pair", 2),
];
/// SaaS management events: type, weight, actor, `detail`.
#[rustfmt::skip]
const SAAS_EVENTS: [(&str, u32, Who, &str); 6] = [
    ("saas_management_login_event", 70, Who::Subject, "SaaS Management captured a login event."),
    ("saas_management_account_discover", 10, Who::System, "SaaS Management account discovered."),
    ("saas_management_application_discover", 8, Who::System, "SaaS Management application discovered."),
    ("saas_management_event_application_review", 4, Who::Admin, "SaaS Management application reviewed."),
    ("saas_management_application_update", 4, Who::Admin, "SaaS Management application updated."),
    ("saas_management_account_user_assign", 4, Who::Admin, "SaaS Management account has a user assigned to it."),
];
#[rustfmt::skip]
const ALERT_EVENTS: [(&str, u32); 6] = [
    ("alert_created", 40), ("alert_status_updated", 30), ("alert_updated", 15),
    ("rule_created", 5), ("rule_modified", 7), ("rule_deleted", 3),
];
/// Alert rules: name, category, severity.
#[rustfmt::skip]
const ALERT_RULES: [(&str, &str, &str); 4] = [
    ("Multiple failed logins", "Directory", "High"), ("Login from new country", "Directory", "Medium"),
    ("FileVault disabled", "System", "Medium"), ("Admin privileges granted", "Directory", "Low"),
];
#[rustfmt::skip]
const STORAGE_EVENTS: [(&str, u32); 4] = [
    ("object_storage_get_download_url_request", 50), ("object_storage_create", 20),
    ("object_storage_upload_validation_result", 20), ("object_storage_delete", 10),
];
#[rustfmt::skip]
const ACCESS_EVENTS: [(&str, u32, Who); 4] = [
    ("access_management_access_request", 40, Who::Subject),
    ("access_management_access_request_approval", 35, Who::Admin),
    ("access_management_association_change", 20, Who::System),
    ("access_management_approval_flow_update", 5, Who::Admin),
];
#[rustfmt::skip]
const REPORT_EVENTS: [(&str, u32); 5] = [
    ("report_run", 50), ("report_export", 40), ("report_create", 5), ("report_update", 3),
    ("report_delete", 2),
];
#[rustfmt::skip]
const ASSET_EVENTS: [(&str, u32, &str); 3] = [
    ("asset_management_asset_update", 70, "An asset has been updated in Asset Management."),
    ("asset_management_asset_create", 20, "An asset has been created in Asset Management."),
    ("asset_management_asset_delete", 10, "An asset has been deleted in Asset Management."),
];
#[rustfmt::skip]
const NOTIFICATION_EVENTS: [(&str, u32); 3] = [
    ("notification_channel_created", 50), ("notification_channel_updated", 40),
    ("notification_channel_deleted", 10),
];
const INSTALL_PLIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>PayloadContent</key><array><dict><key>PayloadDisplayName</key><string>Screensaver</string><key>PayloadIdentifier</key><string>com.jumpcloud.mdm.screensaver</string><key>PayloadType</key><string>com.apple.screensaver</string><key>PayloadUUID</key><string>f446d4c6-2c8d-5ee1-8bf3-a02ad2ba91c2</string><key>PayloadVersion</key><integer>1</integer><key>idleTime</key><integer>600</integer></dict></array><key>PayloadDisplayName</key><string>Screensaver lock</string><key>PayloadIdentifier</key><string>com.jumpcloud.mdm.policy.screensaver</string><key>PayloadOrganization</key><string>JumpCloud</string><key>PayloadRemovalDisallowed</key><true/><key>PayloadScope</key><string>System</string><key>PayloadType</key><string>Configuration</string><key>PayloadUUID</key><string>0d66c2d5-9231-5fd8-a644-d0f69e4be852</string><key>PayloadVersion</key><integer>1</integer></dict></plist>
"#;

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// SplitMix64's finalizer: a bijection on u64, used to derive attributes from keys.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Kinds of derived entities, keeping their hashes apart.
#[derive(Clone, Copy)]
enum Tag {
    User = 1,
    Admin,
    Account,
    Host,
    Ip,
    Group,
    Policy,
    App,
    Command,
    Device,
    Manager,
    Rule,
    Object,
    Report,
    Channel,
}

/// Hash of the entity of kind `tag` and rank `rank` in the organization with key `org_key`.
fn entity(org_key: u64, tag: Tag, rank: usize) -> u64 {
    mix(org_key ^ mix(((tag as u64) << 40) ^ rank as u64))
}

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix(state)
        };
        Self([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An index into a collection of `len` items.
    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// An entry drawn with the weight that `weight` reads from it.
    fn weighted<'a, R>(&mut self, items: &'a [R], weight: impl Fn(&R) -> u32) -> &'a R {
        let total: u32 = items.iter().map(&weight).sum();
        let mut x = self.below(u64::from(total)) as u32;
        for item in items {
            if x < weight(item) {
                return item;
            }
            x -= weight(item);
        }
        &items[items.len() - 1]
    }
}

/// A cumulative distribution over ranks, sampled by binary search.
struct Cdf(Vec<f64>);

impl Cdf {
    fn new(weights: impl Iterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = weights
            .map(|w| {
                total += w;
                total
            })
            .collect();
        for c in &mut cumulative {
            *c /= total;
        }
        Self(cumulative)
    }

    fn zipf(n: usize) -> Self {
        Self::new((1..=n).map(zipf_weight))
    }

    /// The rank that a uniform 64-bit draw falls on.
    fn sample(&self, draw: u64) -> usize {
        let x = (draw >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        self.0.partition_point(|&c| c <= x).min(self.0.len() - 1)
    }
}

/// Zipf weight of a 1-based rank with s = 1.125, computed with `sqrt` only so that every
/// platform gets the same bits (k^1.125 = k * k^(1/8)).
fn zipf_weight(rank: usize) -> f64 {
    let k = rank as f64;
    1.0 / (k * k.sqrt().sqrt().sqrt())
}

// ---------------------------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------------------------

/// A short ASCII string kept on the stack; longer input is cut off.
#[derive(Clone, Copy)]
struct Text {
    len: u8,
    buf: [u8; 64],
}

impl Text {
    fn new(args: fmt::Arguments) -> Self {
        let mut text = Self {
            len: 0,
            buf: [0; 64],
        };
        // Writing to a Text never fails; it truncates instead.
        let _ = text.write_fmt(args);
        text
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if usize::from(self.len) < self.buf.len() {
                self.buf[usize::from(self.len)] = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// A MongoDB-ObjectId-like id: creation seconds and 64 distinguishing bits (24 hex digits).
#[derive(Clone, Copy)]
struct Oid {
    secs: u32,
    bits: u64,
}

impl Oid {
    /// An id created between 2019 and 2024, derived from a hash.
    fn of(hash: u64) -> Self {
        Self {
            secs: 0x5C00_0000 + (hash >> 40) as u32 % 0x0B00_0000,
            bits: mix(hash),
        }
    }

    fn hex(self) -> Text {
        Text::new(format_args!("{:08x}{:016x}", self.secs, self.bits))
    }
}

/// An organization.
struct Org {
    key: u64,
    id: Oid,
    /// Number in the e-mail domain `example<N>.com` (1-based).
    number: u64,
    /// Range of GEOS in the home country: first index and count.
    home: (usize, usize),
}

/// A user; names that attackers make up are unknown (no id).
#[derive(Clone, Copy)]
struct Person {
    key: u64,
    id: Option<Oid>,
    username: Text,
    first: &'static str,
    last: &'static str,
    org: usize,
    domain: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Os {
    Mac,
    Windows,
    Linux,
}

/// A managed device.
struct Host {
    key: u64,
    id: Oid,
    hostname: Text,
    os: Os,
    /// Rank of the user the device belongs to.
    owner: usize,
}

/// A client address and its location (index into GEOS); `coarse` lookups have no coordinates.
#[derive(Clone, Copy)]
struct Ip {
    addr: [u8; 4],
    geo: usize,
    coarse: bool,
}

/// Who initiated an admin-side event.
#[derive(Clone, Copy)]
enum Actor {
    User(Person),
    Admin(Person),
    Api(Person),
    System,
}

/// A sign-in attempt: who, from where, with what, and how it ended.
struct Attempt {
    who: Person,
    ip: Ip,
    ua: &'static str,
    fail: Option<&'static str>,
    mfa: bool,
    attack: bool,
}

/// A planned brute-force burst: `size` guesses `step` apart from `start`.
struct Burst {
    start: i64,
    step: i64,
    size: u32,
    done: u32,
    kind: Kind,
    attacker: usize,
    org: usize,
    host: usize,
}

/// Fractional digits of a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frac {
    Secs,
    Millis,
    Micros,
    /// Nanoseconds with trailing zeros trimmed (Go's RFC3339Nano: 1–9 digits).
    Nanos,
}

impl Frac {
    /// The step between representable instants, in nanoseconds.
    fn grid(self) -> i64 {
        match self {
            Self::Secs => NS,
            Self::Millis => 1_000_000,
            Self::Micros => 1_000,
            Self::Nanos => 1,
        }
    }
}

impl Kind {
    /// The timestamp precision that the family's producer uses.
    fn frac(self, rng: &mut Rng) -> Frac {
        match self {
            Self::LdapBind | Self::LdapSearch => Frac::Micros,
            Self::Mdm | Self::Software | Self::ObjectStorage => Frac::Nanos,
            Self::SysLogin | Self::SysOther if rng.chance(25) => Frac::Secs,
            _ => Frac::Millis,
        }
    }
}

/// Per-event context shared by the family writers.
struct Ev {
    org: usize,
    t: i64,
    frac: Frac,
    seq: u64,
}

// ---------------------------------------------------------------------------------------------
// JSON output
// ---------------------------------------------------------------------------------------------

/// Appends JSON to a line buffer. A comma goes before every member or element unless the
/// previous byte opened an object or array. Keys are trusted literals and are not escaped.
struct Json<'a>(&'a mut Vec<u8>);

impl Json<'_> {
    fn comma(&mut self) {
        if !matches!(self.0.last(), Some(b'{' | b'[')) {
            self.0.push(b',');
        }
    }

    fn key(&mut self, key: &str) -> &mut Self {
        debug_assert!(!key.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
        self.comma();
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
        self
    }

    fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.parts(key, &[value])
    }

    /// A string member whose value is the concatenation of `parts`.
    fn parts(&mut self, key: &str, parts: &[&str]) -> &mut Self {
        self.key(key).0.push(b'"');
        for part in parts {
            escape_into(self.0, part);
        }
        self.0.push(b'"');
        self
    }

    fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).0.extend_from_slice(json.as_bytes());
        self
    }

    fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    fn null(&mut self, key: &str) -> &mut Self {
        self.raw(key, "null")
    }

    fn num(&mut self, key: &str, value: u64) -> &mut Self {
        push_u64(self.key(key).0, value);
        self
    }

    fn oid(&mut self, key: &str, id: Oid) -> &mut Self {
        self.key(key).0.push(b'"');
        push_hex(self.0, u64::from(id.secs), 8, false);
        push_hex(self.0, id.bits, 16, false);
        self.0.push(b'"');
        self
    }

    fn uuid(&mut self, key: &str, hi: u64, lo: u64, upper: bool) -> &mut Self {
        self.key(key).0.push(b'"');
        push_uuid(self.0, hi, lo, upper);
        self.0.push(b'"');
        self
    }

    fn ip(&mut self, key: &str, ip: Ip) -> &mut Self {
        self.key(key).0.push(b'"');
        for (i, octet) in ip.addr.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b'.');
            }
            push_u64(self.0, octet.into());
        }
        self.0.push(b'"');
        self
    }

    fn obj(&mut self, key: &str) -> &mut Self {
        self.key(key).0.push(b'{');
        self
    }

    fn arr(&mut self, key: &str) -> &mut Self {
        self.key(key).0.push(b'[');
        self
    }

    /// Opens an object as an array element.
    fn item(&mut self) -> &mut Self {
        self.comma();
        self.0.push(b'{');
        self
    }

    fn end(&mut self) -> &mut Self {
        self.0.push(b'}');
        self
    }

    fn end_arr(&mut self) -> &mut Self {
        self.0.push(b']');
        self
    }

    /// `"key":"<username>@example<N>.com"`.
    fn email(&mut self, key: &str, p: &Person) -> &mut Self {
        self.key(key).0.push(b'"');
        escape_into(self.0, p.username.as_str());
        self.0.extend_from_slice(b"@example");
        push_u64(self.0, p.domain);
        self.0.extend_from_slice(b".com\"");
        self
    }

    /// `"key":{"id","type","username","email"}`; made-up names have no id or e-mail.
    fn person(&mut self, key: &str, kind: &str, p: &Person) -> &mut Self {
        self.person_members(key, kind, p);
        if p.id.is_some() {
            self.email("email", p);
        }
        self.end()
    }

    /// `"key":{"id","type","username"}`, the shape of SSO and device sign-ins.
    fn user_ref(&mut self, key: &str, kind: &str, p: &Person) -> &mut Self {
        self.person_members(key, kind, p).end()
    }

    /// Opens `key` and writes `id` (if known), `type` and `username`.
    fn person_members(&mut self, key: &str, kind: &str, p: &Person) -> &mut Self {
        self.obj(key);
        if let Some(id) = p.id {
            self.oid("id", id);
        }
        self.str("type", kind).str("username", p.username.as_str())
    }

    /// `"key":{"id","type","email"}`, the shape DI uses for administrators.
    fn admin(&mut self, key: &str, kind: &str, p: &Person) -> &mut Self {
        self.obj(key);
        if let Some(id) = p.id {
            self.oid("id", id);
        }
        self.str("type", kind).email("email", p).end()
    }

    /// `"key":{"id","type","name"}`.
    fn named(&mut self, key: &str, id: Oid, kind: &str, name: &str) -> &mut Self {
        self.obj(key).oid("id", id).str("type", kind);
        self.str("name", name).end()
    }

    /// `changes` with one string field changed.
    fn change(&mut self, field: &str, from: &str, to: &str) -> &mut Self {
        self.arr("changes").item().str("field", field);
        self.str("from", from).str("to", to).end().end_arr()
    }

    /// An array of strings.
    fn strs(&mut self, key: &str, items: &[&str]) -> &mut Self {
        self.arr(key);
        for item in items {
            self.comma();
            self.0.push(b'"');
            escape_into(self.0, item);
            self.0.push(b'"');
        }
        self.end_arr()
    }

    /// `success` and, on failure, `error_message`.
    fn outcome(&mut self, fail: Option<&str>) -> &mut Self {
        self.bool("success", fail.is_none());
        self.error(fail)
    }

    fn error(&mut self, fail: Option<&str>) -> &mut Self {
        if let Some(message) = fail {
            self.str("error_message", message);
        }
        self
    }
}

/// Appends `s` with JSON string escaping (without quotes).
fn escape_into(b: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&c| c == b'"' || c == b'\\' || c < 0x20) {
        b.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => b"",
            _ => continue,
        };
        b.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            b.extend_from_slice(b"\\u00");
            push_hex(b, u64::from(c), 2, false);
        } else {
            b.extend_from_slice(short);
        }
        start = i + 1;
    }
    b.extend_from_slice(&bytes[start..]);
}

fn push_u64(b: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&digits[i..]);
}

/// Appends `v` as exactly `width` decimal digits (zero-padded, high digits cut).
fn push_padded(b: &mut Vec<u8>, mut v: u64, width: usize) {
    let at = b.len();
    b.resize(at + width, b'0');
    for slot in b[at..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn push_hex(b: &mut Vec<u8>, v: u64, digits: u32, upper: bool) {
    let alphabet = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    for i in (0..digits).rev() {
        b.push(alphabet[((v >> (i * 4)) & 0xF) as usize]);
    }
}

fn push_uuid(b: &mut Vec<u8>, hi: u64, lo: u64, upper: bool) {
    push_hex(b, hi >> 32, 8, upper);
    b.push(b'-');
    push_hex(b, hi >> 16, 4, upper);
    b.push(b'-');
    push_hex(b, hi, 4, upper);
    b.push(b'-');
    push_hex(b, lo >> 48, 4, upper);
    b.push(b'-');
    push_hex(b, lo, 12, upper);
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            let digit = ALPHABET[(n >> (18 - 6 * i) & 63) as usize];
            out.push(if i <= chunk.len() {
                char::from(digit)
            } else {
                '='
            });
        }
    }
    out
}

/// Appends `YYYY-MM-DDTHH:MM:SS` for seconds since the Unix epoch (proleptic Gregorian).
fn push_datetime(b: &mut Vec<u8>, secs: i64) {
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let fields = [
        (year, 4),
        (month, 2),
        (day, 2),
        (sod / 3600, 2),
        (sod / 60 % 60, 2),
    ];
    for ((value, width), separator) in fields.into_iter().zip(*b"--T::") {
        push_padded(b, value.unsigned_abs(), width);
        b.push(separator);
    }
    push_padded(b, (sod % 60) as u64, 2);
}

/// Appends an RFC 3339 UTC timestamp with the given fractional digits.
fn push_timestamp(b: &mut Vec<u8>, ns: i64, frac: Frac) {
    push_datetime(b, ns.div_euclid(NS));
    let sub = ns.rem_euclid(NS) as u64;
    let (mut value, mut width) = match frac {
        Frac::Secs => (0, 0),
        Frac::Millis => (sub / 1_000_000, 3),
        Frac::Micros => (sub / 1_000, 6),
        Frac::Nanos => (sub, 9),
    };
    if frac == Frac::Nanos {
        while width > 0 && value % 10 == 0 {
            value /= 10;
            width -= 1;
        }
    }
    if width > 0 {
        b.push(b'.');
        push_padded(b, value, width);
    }
    b.push(b'Z');
}

/// Appends `"YYYY-MM-DDTHH:MM:SS+hh:mm"`, a device's local clock.
fn push_local_time(b: &mut Vec<u8>, secs: i64, offset_minutes: i32) {
    b.push(b'"');
    push_datetime(b, secs + i64::from(offset_minutes) * 60);
    b.push(if offset_minutes < 0 { b'-' } else { b'+' });
    let offset = offset_minutes.unsigned_abs();
    push_padded(b, u64::from(offset / 60), 2);
    b.push(b':');
    push_padded(b, u64::from(offset % 60), 2);
    b.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// The generator: time, entities and shared members
// ---------------------------------------------------------------------------------------------

struct Generator {
    rng: Rng,
    /// Key of the bijection that turns the event sequence number into unique id bits.
    id_key: u64,
    start: i64,
    end: i64,
    /// Timestamp of the latest in-order event; later ones never go below it.
    last: i64,
    seq: u64,
    orgs: Vec<Org>,
    org_cdf: Cdf,
    users: Cdf,
    hosts: Cdf,
    ips: Cdf,
    apps: Cdf,
    /// Rendered `geoip` objects: two per location, with and without coordinates.
    geo_json: Vec<String>,
    background: Background,
    bursts: Vec<Burst>,
    burst_at: usize,
    certificates: Vec<String>,
    install_payload: String,
}

/// The evenly spread events (all but the bursts): how many, how many are out, and the time of
/// the next one once drawn.
struct Background {
    total: u64,
    done: u64,
    next: Option<i64>,
}

impl Generator {
    /// Fails when the time range does not fit in i64 nanoseconds (about 1678 to 2262).
    fn new(opts: &GenerateOptions) -> io::Result<Self> {
        let mut rng = Rng::new(opts.seed);
        let days = opts.days.clamp(1, MAX_DAYS);
        let span = i64::from(days) * 86_400 * NS;
        let start_secs = opts.start.and_time(NaiveTime::MIN).and_utc().timestamp();
        let start = start_secs
            .checked_mul(NS)
            .filter(|s| s.checked_add(span).is_some());
        let Some(start) = start else {
            let message = format!("start date {} is outside 1678..2262", opts.start);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        };
        let org_count = opts.orgs.clamp(1, MAX_ORGS) as usize;
        let orgs = (0..org_count).map(|i| new_org(&mut rng, i)).collect();
        // The first organization gets three times its Zipf share.
        let boost = |k: usize| if k == 1 { 3.0 } else { 1.0 };
        let org_cdf = Cdf::new((1..=org_count).map(|k| zipf_weight(k) * boost(k)));
        let bursts = plan_bursts(&mut rng, opts.events, days, (start, span), org_count);
        let burst_events: u64 = bursts.iter().map(|b| u64::from(b.size)).sum();
        let geo_json = GEOS
            .iter()
            .flat_map(|g| [geo_json(g, true), geo_json(g, false)]);
        let mut certificate = || {
            let mut der = vec![0x30, 0x82, 0x03, 0xB7];
            der.extend((0..0x3B7).map(|_| rng.next_u64() as u8));
            base64(&der)
        };
        let certificates = vec![certificate(), certificate(), certificate()];
        Ok(Self {
            id_key: rng.next_u64(),
            rng,
            start,
            end: start + span,
            last: start,
            seq: 0,
            orgs,
            org_cdf,
            users: Cdf::zipf(USERS),
            hosts: Cdf::zipf(HOSTS),
            ips: Cdf::zipf(IPS),
            apps: Cdf::zipf(APPS.len()),
            geo_json: geo_json.collect(),
            background: Background {
                total: opts.events - burst_events,
                done: 0,
                next: None,
            },
            bursts,
            burst_at: 0,
            certificates,
            install_payload: base64(INSTALL_PLIST.as_bytes()),
        })
    }

    /// Appends one event and its newline to `buf`.
    fn event(&mut self, buf: &mut Vec<u8>) {
        let (candidate, burst) = self.next_slot();
        let kind = match burst {
            Some(i) => self.bursts[i].kind,
            None => self.rng.weighted(&KINDS, |&(_, weight)| weight).0,
        };
        let frac = kind.frac(&mut self.rng);
        let (t, frac) = self.stamp(candidate, frac);
        let org = match burst {
            Some(i) => self.bursts[i].org,
            None => self.org_cdf.sample(self.rng.next_u64()),
        };
        let ev = Ev {
            org,
            t,
            frac,
            seq: self.seq,
        };
        self.seq += 1;
        let j = &mut Json(buf);
        let attempt = |g: &mut Self, errors| match burst {
            Some(i) => g.attack(i, org),
            None => g.attempt(org, errors),
        };
        match kind {
            Kind::Sso => self.sso(j, &ev),
            Kind::UserLogin => {
                let a = attempt(self, &USER_ERRORS);
                self.user_login(j, &ev, a);
            }
            Kind::AdminLogin => self.admin_login(j, &ev),
            Kind::DirChange => self.directory_change(j, &ev),
            Kind::SysLogin => {
                let a = attempt(self, &SYSTEM_ERRORS);
                let rank = match burst {
                    Some(i) => self.bursts[i].host,
                    None => self.hosts.sample(self.rng.next_u64()),
                };
                self.system_login(j, &ev, a, rank);
            }
            Kind::SysOther => self.system_other(j, &ev),
            Kind::Radius => {
                let a = attempt(self, &RADIUS_ERRORS);
                self.radius(j, &ev, a);
            }
            Kind::LdapBind => {
                let a = attempt(self, &USER_ERRORS);
                self.ldap_bind(j, &ev, a);
            }
            Kind::LdapSearch => self.ldap_search(j, &ev),
            Kind::Mdm => self.mdm(j, &ev),
            Kind::Software => self.software(j, &ev),
            Kind::PasswordManager => self.password_manager(j, &ev),
            Kind::Saas => self.saas(j, &ev),
            Kind::Alerts => self.alerts(j, &ev),
            Kind::ObjectStorage => self.object_storage(j, &ev),
            Kind::AccessManagement => self.access_management(j, &ev),
            Kind::Reports => self.reports(j, &ev),
            Kind::AssetManagement => self.asset_management(j, &ev),
            Kind::Notifications => self.notifications(j, &ev),
        }
        buf.push(b'\n');
    }

    /// The nominal time of the next event: the earlier of the next evenly spread background
    /// slot and the next guess of the current burst (with the burst's index).
    fn next_slot(&mut self) -> (i64, Option<usize>) {
        let burst = self.bursts.get(self.burst_at);
        let burst_time = burst.map(|b| b.start + b.step * i64::from(b.done));
        let pending = self.background.done < self.background.total;
        let background_time = pending.then(|| self.background_time());
        match (background_time, burst_time) {
            (Some(t), Some(u)) if u < t => self.take_burst(u),
            (Some(t), _) => {
                self.background.done += 1;
                self.background.next = None;
                (t, None)
            }
            (None, Some(u)) => self.take_burst(u),
            // Unreachable: background and burst events add up to `events`.
            (None, None) => (self.end - 1, None),
        }
    }

    fn take_burst(&mut self, t: i64) -> (i64, Option<usize>) {
        let i = self.burst_at;
        let burst = &mut self.bursts[i];
        burst.done += 1;
        if burst.done == burst.size {
            self.burst_at += 1;
        }
        (t, Some(i))
    }

    /// A random instant in the current background slot (slot j of n covers
    /// `[j, j + 1) * span / n`), drawn once and kept until the slot is used.
    fn background_time(&mut self) -> i64 {
        if let Some(t) = self.background.next {
            return t;
        }
        let span = (self.end - self.start) as u128;
        let (j, n) = (
            u128::from(self.background.done),
            u128::from(self.background.total),
        );
        let (lo, hi) = (j * span / n, (j + 1) * span / n);
        let t = self.start + (lo + u128::from(self.rng.below((hi - lo) as u64))) as i64;
        self.background.next = Some(t);
        t
    }

    /// The final timestamp: ~1% late by 1–30 minutes; the rest never below the previous
    /// in-order event, rounded up to the precision (falling back to nanoseconds at the end).
    fn stamp(&mut self, candidate: i64, frac: Frac) -> (i64, Frac) {
        let t = candidate.min(self.end - 1);
        let grid = frac.grid();
        if self.rng.below(10_000) < LATE_PER_10K {
            let delay = 60 * NS + self.rng.below(29 * 60 * NS as u64) as i64;
            let late = (t - delay).max(self.start);
            return (late - late.rem_euclid(grid), frac);
        }
        let t = t.max(self.last);
        let up = t + (grid - t.rem_euclid(grid)) % grid;
        let (t, frac) = if up < self.end {
            (up, frac)
        } else {
            (t, Frac::Nanos)
        };
        self.last = t;
        (t, frac)
    }

    fn person(&self, org: usize, rank: usize) -> Person {
        let o = &self.orgs[org];
        // An odd multiplier makes rank -> (first, last) a bijection on 0..4096: names are unique.
        let p = (rank as u64).wrapping_mul(0x9E5).wrapping_add(o.key) & 4095;
        let (f, l) = ((p & 63) as usize, (p >> 6) as usize);
        let key = entity(o.key, Tag::User, rank);
        let (first, last) = (FIRST[f].to_ascii_lowercase(), LAST[l].to_ascii_lowercase());
        let username = if key % 10 < 7 {
            let number = (f * 37 + l * 11) % 90 + 10;
            Text::new(format_args!("{}{last}{number}", &first[..1]))
        } else {
            Text::new(format_args!("{first}.{last}"))
        };
        let (id, domain) = (Some(Oid::of(key)), o.number);
        Person {
            key,
            id,
            username,
            first: FIRST[f],
            last: LAST[l],
            org,
            domain,
        }
    }

    fn zipf_person(&mut self, org: usize) -> Person {
        let rank = self.users.sample(self.rng.next_u64());
        self.person(org, rank)
    }

    fn admin(&mut self, org: usize) -> Person {
        let i = self.rng.index(ADMIN_RANKS.len());
        let mut admin = self.person(org, ADMIN_RANKS[i]);
        admin.id = Some(Oid::of(entity(self.orgs[org].key, Tag::Admin, i)));
        admin
    }

    /// A service account (`known`), or a name that does not exist.
    fn account(&self, org: usize, name: &'static str, known: bool) -> Person {
        let o = &self.orgs[org];
        let name_hash = name.bytes().fold(0, |h, b| mix(h ^ u64::from(b)));
        let key = entity(o.key ^ name_hash, Tag::Account, 0);
        let id = known.then(|| Oid::of(key));
        let username = Text::new(format_args!("{name}"));
        Person {
            key,
            id,
            username,
            first: name,
            last: "",
            org,
            domain: o.number,
        }
    }

    fn host(&self, org: usize, rank: usize) -> Host {
        let key = entity(self.orgs[org].key, Tag::Host, rank);
        let tag = Text::new(format_args!("{:08X}", (key >> 24) as u32));
        let name = |args| Text::new(args);
        let (hostname, os) = match key % 8 {
            0 | 1 => (name(format_args!("Computer{}", 100 + rank)), Os::Mac),
            2 | 3 => (name(format_args!("MacBook-Pro-{}", rank + 1)), Os::Mac),
            4 => (name(format_args!("LAPTOP-{}", tag.as_str())), Os::Windows),
            5 => (
                name(format_args!("DESKTOP-{}", &tag.as_str()[1..])),
                Os::Windows,
            ),
            6 => {
                let role = ["web", "db", "build", "jump", "k8s", "git"][rank % 6];
                (
                    name(format_args!("srv-{role}-{:02}", rank / 6 + 1)),
                    Os::Linux,
                )
            }
            _ => (
                name(format_args!("{}s-MacBook-Air-{rank}", FIRST[rank % 64])),
                Os::Mac,
            ),
        };
        let owner = (key >> 20) as usize % USERS;
        Host {
            key,
            id: Oid::of(key),
            hostname,
            os,
            owner,
        }
    }

    fn zipf_host(&mut self, org: usize) -> Host {
        let rank = self.hosts.sample(self.rng.next_u64());
        self.host(org, rank)
    }

    /// Address `rank` of an organization: 75% in its home country.
    fn ip(&self, org: usize, rank: usize) -> Ip {
        let o = &self.orgs[org];
        let key = entity(o.key, Tag::Ip, rank);
        let (first_home, home_count) = o.home;
        let geo = if key % 100 < 75 {
            first_home + (key >> 8) as usize % home_count
        } else {
            (key >> 8) as usize % NORMAL_GEOS
        };
        let prefixes = GEOS[geo].prefixes;
        let first = prefixes[(key >> 16) as usize % prefixes.len()];
        let addr = [
            first,
            (key >> 24) as u8,
            (key >> 32) as u8,
            1 + ((key >> 40) % 254) as u8,
        ];
        Ip {
            addr,
            geo,
            coarse: (key >> 48) & 3 == 0,
        }
    }

    /// Where a person signs in from: usually their own address (70%), else anywhere.
    fn person_ip(&mut self, p: &Person) -> Ip {
        let draw = if self.rng.chance(70) {
            mix(p.key ^ 0x1F)
        } else {
            self.rng.next_u64()
        };
        self.ip(p.org, self.ips.sample(draw))
    }

    /// The browser a person usually uses (85%), or any of the same rendering.
    fn user_agent(&mut self, p: &Person) -> &'static str {
        let agents: &[&str] = if p.key & 0x80 == 0 {
            &USERAGENTS
        } else {
            &LEGACY_USERAGENTS
        };
        let own = (mix(p.key ^ 0x55) % agents.len() as u64) as usize;
        let i = if self.rng.chance(85) {
            own
        } else {
            self.rng.index(agents.len())
        };
        agents[i]
    }

    fn attempt(&mut self, org: usize, errors: &[&'static str]) -> Attempt {
        let who = self.zipf_person(org);
        self.attempt_by(who, errors)
    }

    /// An ordinary sign-in by `who`: 3.8% fail with one of `errors`.
    fn attempt_by(&mut self, who: Person, errors: &[&'static str]) -> Attempt {
        let ip = self.person_ip(&who);
        let ua = self.user_agent(&who);
        let failed = self.rng.below(10_000) < FAIL_PER_10K;
        let fail = failed.then(|| self.rng.pick(errors));
        let mfa = who.key % 10 < 6 || fail == Some("mfa failed");
        Attempt {
            who,
            ip,
            ua,
            fail,
            mfa,
            attack: false,
        }
    }

    /// One guess of a brute-force burst: a real user or a dictionary name, always failing.
    fn attack(&mut self, burst: usize, org: usize) -> Attempt {
        let (last_octet, geo) = ATTACKERS[self.bursts[burst].attacker];
        let who = if self.rng.chance(50) {
            self.zipf_person(org)
        } else {
            let name = self.rng.pick(&DICTIONARY);
            self.account(org, name, false)
        };
        let fail = match who.id {
            None => "user not found",
            Some(_) if self.rng.chance(10) => "user locked",
            Some(_) => "invalid credentials",
        };
        let ip = Ip {
            addr: [185, 220, 101, last_octet],
            geo,
            coarse: false,
        };
        Attempt {
            who,
            ip,
            ua: UA_ATTACK,
            fail: Some(fail),
            mfa: false,
            attack: true,
        }
    }

    /// The actor of an admin-side change: mostly an administrator at the console, some API
    /// keys, some automation.
    fn actor_for(&mut self, who: Who, subject: &Person) -> Actor {
        let admin = self.admin(subject.org);
        match (who, self.rng.below(100)) {
            (Who::Subject, _) => Actor::User(*subject),
            (Who::System, _) | (Who::Admin, 95..) => Actor::System,
            (Who::Admin, 80..) => Actor::Api(admin),
            (Who::Admin, _) => Actor::Admin(admin),
        }
    }

    fn header(&mut self, j: &mut Json, ev: &Ev, service: &str, event_type: &str) {
        j.0.push(b'{');
        j.str("@version", "1");
        let unique = mix(ev.seq ^ self.id_key);
        if service == "radius" {
            j.uuid("id", unique, self.rng.next_u64(), true);
        } else {
            let secs = ev.t.div_euclid(NS) as u32;
            j.oid("id", Oid { secs, bits: unique });
        }
        j.key("timestamp").0.push(b'"');
        push_timestamp(j.0, ev.t, ev.frac);
        j.0.push(b'"');
        j.str("service", service).str("event_type", event_type);
        j.oid("organization", self.orgs[ev.org].id);
    }

    /// `client_ip` and `geoip`.
    fn client(&self, j: &mut Json, ip: Ip) {
        let geo = &self.geo_json[ip.geo * 2 + usize::from(ip.coarse)];
        j.ip("client_ip", ip).raw("geoip", geo);
    }

    /// `client_ip`, `geoip` and the user agent under `ua_key`.
    fn origin(&self, j: &mut Json, ip: Ip, ua_key: &str, ua: &str) {
        self.client(j, ip);
        j.raw(ua_key, ua);
    }

    /// `initiated_by`, and for people where they came from.
    fn initiated_by(&mut self, j: &mut Json, actor: &Actor, ua_key: &str) {
        match actor {
            Actor::User(p) | Actor::Admin(p) => {
                match actor {
                    Actor::User(_) => j.person("initiated_by", "user", p),
                    _ => j.admin("initiated_by", "admin", p),
                };
                let (ip, ua) = (self.person_ip(p), self.user_agent(p));
                self.origin(j, ip, ua_key, ua);
            }
            Actor::Api(p) => {
                j.admin("initiated_by", "api", p);
                // Automation runs from the organization's busiest address.
                let ip = self.ip(p.org, 0);
                self.origin(j, ip, ua_key, UA_API);
            }
            Actor::System => {
                j.obj("initiated_by").str("type", "system");
                j.str("source", "jumpcloud:scheduler").end();
            }
        }
    }

    /// `auth_context` for 15% of ordinary sign-ins: factors used and policies applied.
    fn auth_context(&mut self, j: &mut Json, a: &Attempt) {
        if a.attack || !self.rng.chance(15) {
            return;
        }
        j.obj("auth_context").obj("auth_methods");
        j.obj("password").bool("success", true).end();
        if a.mfa {
            let factor = self.rng.pick(&MFA_TYPES);
            j.obj(factor).bool("success", a.fail.is_none()).end();
        }
        j.end().arr("policies_applied");
        for (i, name) in POLICIES.iter().enumerate().take(1 + self.rng.index(2)) {
            let id = Oid::of(entity(self.orgs[a.who.org].key, Tag::Policy, i));
            j.item().oid("id", id).str("name", name).end();
        }
        j.end_arr().end();
    }

    /// `system` {id, hostname}.
    fn system(&self, j: &mut Json, host: &Host) {
        let hostname = host.hostname.as_str();
        j.obj("system")
            .oid("id", host.id)
            .str("hostname", hostname)
            .end();
    }

    fn resource_host(&self, j: &mut Json, host: &Host) {
        let hostname = host.hostname.as_str();
        j.obj("resource").oid("id", host.id).str("type", "system");
        j.str("hostname", hostname).end();
    }

    /// An entity of a small per-organization catalogue (groups, policies, ...): id and name.
    fn catalogued(&mut self, org: usize, tag: Tag, names: &[&'static str]) -> (Oid, &'static str) {
        let i = self.rng.index(names.len());
        (Oid::of(entity(self.orgs[org].key, tag, i)), names[i])
    }
}

fn new_org(rng: &mut Rng, index: usize) -> Org {
    let key = rng.next_u64();
    let country = if index == 0 {
        "US"
    } else {
        HOMES[(mix(key) % HOMES.len() as u64) as usize]
    };
    let first = GEOS.iter().position(|g| g.country == country).unwrap_or(0);
    let count = GEOS[first..]
        .iter()
        .take_while(|g| g.country == country)
        .count();
    Org {
        key,
        id: Oid::of(key),
        number: index as u64 + 1,
        home: (first, count.max(1)),
    }
}

/// Plans brute-force bursts: about one per 10,000 events, at most three a day, 20–200 guesses
/// each over 30–150 seconds, never overlapping. `(start, span)` is the time range.
fn plan_bursts(
    rng: &mut Rng,
    events: u64,
    days: u32,
    (start, span): (i64, i64),
    orgs: usize,
) -> Vec<Burst> {
    if events < 2_000 {
        return Vec::new();
    }
    let count = (events / 10_000).clamp(1, u64::from(days) * 3);
    let kinds = [
        Kind::UserLogin,
        Kind::Radius,
        Kind::LdapBind,
        Kind::SysLogin,
    ];
    let mut bursts: Vec<Burst> = (0..count)
        .map(|_| {
            let size = (20 + rng.below(181)).min(events / 50) as u32;
            let duration = (30 + rng.below(121)) as i64 * NS;
            let offset = rng.below((span - 600 * NS) as u64) as i64;
            let org = if orgs > 1 && rng.chance(30) {
                1 + rng.index(orgs - 1)
            } else {
                0
            };
            Burst {
                start: start + offset,
                step: duration / i64::from(size),
                size,
                done: 0,
                kind: rng.pick(&kinds),
                attacker: rng.index(ATTACKERS.len()),
                org,
                host: rng.index(20),
            }
        })
        .collect();
    bursts.sort_by_key(|b| b.start);
    for i in 1..bursts.len() {
        let previous = &bursts[i - 1];
        let previous_end = previous.start + previous.step * i64::from(previous.size);
        bursts[i].start = bursts[i].start.max(previous_end + 60 * NS);
    }
    bursts
}

/// The `geoip` object of a location, with or without coordinates.
fn geo_json(g: &Geo, coordinates: bool) -> String {
    let mut b = Vec::with_capacity(200);
    let j = &mut Json(&mut b);
    j.0.push(b'{');
    j.str("continent_code", g.continent)
        .str("country_code", g.country);
    j.str("region_code", g.region_code)
        .str("region_name", g.region_name);
    j.str("timezone", g.timezone);
    if coordinates {
        j.raw("latitude", g.latitude).raw("longitude", g.longitude);
    }
    j.end();
    String::from_utf8(b).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Event families
// ---------------------------------------------------------------------------------------------

impl Generator {
    fn sso(&mut self, j: &mut Json, ev: &Ev) {
        let a = self.attempt(ev.org, &SSO_ERRORS);
        let app = self.apps.sample(self.rng.next_u64());
        let App(label, name, _) = APPS[app];
        let app_id = Oid::of(entity(self.orgs[ev.org].key, Tag::App, app));
        let idp_initiated = self.rng.chance(40);
        self.header(j, ev, "sso", "sso_auth");
        j.user_ref("initiated_by", "user", &a.who);
        j.obj("application").str("display_label", label);
        j.oid("id", app_id).str("name", name);
        j.parts("sso_url", &["https://sso.jumpcloud.com/saml2/", name])
            .end();
        self.origin(j, a.ip, "useragent", a.ua);
        j.bool("idp_initiated", idp_initiated).bool("mfa", a.mfa);
        j.bool("sso_token_success", a.fail.is_none()).error(a.fail);
        self.auth_context(j, &a);
        j.str("provider", "").end();
    }

    fn user_login(&mut self, j: &mut Json, ev: &Ev, a: Attempt) {
        self.header(j, ev, "directory", "user_login_attempt");
        j.person("initiated_by", "user", &a.who);
        j.str("username", a.who.username.as_str());
        self.origin(j, a.ip, "useragent", a.ua);
        j.str("auth_method", if a.mfa { "mfa" } else { "password" });
        j.bool("mfa", a.mfa);
        if a.mfa {
            let factor = self.rng.pick(&MFA_TYPES);
            j.obj("mfa_meta").str("type", factor).end();
        }
        j.outcome(a.fail).null("provider");
        self.auth_context(j, &a);
        j.end();
    }

    fn admin_login(&mut self, j: &mut Json, ev: &Ev) {
        let admin = self.admin(ev.org);
        let a = self.attempt_by(admin, &USER_ERRORS);
        self.header(j, ev, "directory", "admin_login_attempt");
        j.admin("initiated_by", "admin", &admin);
        j.admin("resource", "admin", &admin);
        self.origin(j, a.ip, "useragent", a.ua);
        j.str("auth_method", "password").bool("mfa", true);
        j.obj("mfa_meta").str("type", "totp").end();
        j.outcome(a.fail).null("provider").end();
    }

    fn directory_change(&mut self, j: &mut Json, ev: &Ev) {
        let &DirChange(event_type, _, who, res, changes) = self.rng.weighted(&DIR_CHANGES, |c| c.1);
        let subject = self.zipf_person(ev.org);
        let actor = self.actor_for(who, &subject);
        self.header(j, ev, "directory", event_type);
        self.initiated_by(j, &actor, "useragent");
        let auth_method = match actor {
            Actor::Api(_) => "api key",
            Actor::System => "other",
            _ => "session",
        };
        j.str("auth_method", auth_method);
        let (id, name) = self.directory_resource(j, ev.org, res, &subject);
        match (changes, event_type) {
            ("*", "user_update") => self.rename(j, &subject),
            ("*", "user_create") => user_create_changes(j, &subject),
            ("*", _) => {
                let field = if res == Res::System {
                    "hostname"
                } else {
                    "name"
                };
                j.arr("changes").item().str("field", field);
                j.str("to", name.as_str()).end().end_arr();
            }
            (_, "association_change") => self.association(j, &subject, id, name.as_str()),
            (_, "command_run") => {
                let host = self.zipf_host(ev.org);
                self.system(j, &host);
            }
            ("", _) => {}
            (json, _) => {
                j.raw("changes", json);
            }
        }
        j.null("provider").bool("success", true).end();
    }

    /// Writes the `resource` of a directory change; returns its id and name.
    fn directory_resource(
        &mut self,
        j: &mut Json,
        org: usize,
        res: Res,
        user: &Person,
    ) -> (Oid, Text) {
        let text = |name: &str| Text::new(format_args!("{name}"));
        let (kind, tag, names): (&str, Tag, &[&'static str]) = match res {
            Res::User => {
                j.person("resource", "user", user);
                return (Oid::of(user.key), user.username);
            }
            Res::Admin => {
                let admin = self.admin(org);
                j.admin("resource", "admin", &admin);
                return (admin.id.unwrap_or(Oid::of(admin.key)), admin.username);
            }
            Res::System => {
                let host = self.zipf_host(org);
                self.resource_host(j, &host);
                return (host.id, host.hostname);
            }
            Res::Org => {
                let o = &self.orgs[org];
                let name = Text::new(format_args!("Example {}", o.number));
                j.obj("resource")
                    .oid("id", o.id)
                    .str("type", "organization");
                j.str("displayName", name.as_str()).end();
                return (o.id, name);
            }
            Res::App => {
                let i = self.apps.sample(self.rng.next_u64());
                let id = Oid::of(entity(self.orgs[org].key, Tag::App, i));
                j.named("resource", id, "application", APPS[i].1);
                return (id, text(APPS[i].1));
            }
            Res::Group => ("user_group", Tag::Group, &GROUPS),
            Res::Policy => ("policy", Tag::Policy, &POLICIES),
            Res::Command => ("command", Tag::Command, &COMMANDS),
        };
        let (id, name) = self.catalogued(org, tag, names);
        j.named("resource", id, kind, name);
        (id, text(name))
    }

    /// `changes` of a user rename: last name, first name, e-mail or username.
    fn rename(&mut self, j: &mut Json, p: &Person) {
        let new_last = self.rng.pick(&LAST);
        let new_first = self.rng.pick(&FIRST);
        let (first, last) = (p.first.to_ascii_lowercase(), new_last.to_ascii_lowercase());
        let new_username = Text::new(format_args!("{first}.{last}"));
        let old_email = Text::new(format_args!(
            "{}@example{}.com",
            p.username.as_str(),
            p.domain
        ));
        let new_email = Text::new(format_args!("{first}.{last}@example{}.com", p.domain));
        match self.rng.below(4) {
            0 => j.change("lastname", p.last, new_last),
            1 => j.change("firstname", p.first, new_first),
            2 => j.change("email", old_email.as_str(), new_email.as_str()),
            _ => j.change("username", p.username.as_str(), new_username.as_str()),
        };
    }

    fn association(&mut self, j: &mut Json, user: &Person, group: Oid, group_name: &str) {
        let op = if self.rng.chance(80) { "add" } else { "remove" };
        j.obj("association").str("op", op).obj("connection");
        j.obj("from")
            .str("type", "user")
            .oid("object_id", Oid::of(user.key));
        j.str("name", user.username.as_str()).end();
        j.obj("to")
            .str("type", "user_group")
            .oid("object_id", group);
        j.str("name", group_name).end().end().end();
    }

    fn system_login(&mut self, j: &mut Json, ev: &Ev, mut a: Attempt, host_rank: usize) {
        let host = self.host(ev.org, host_rank);
        if !a.attack && host.os != Os::Linux && self.rng.chance(70) {
            a.who = self.person(ev.org, host.owner);
        }
        let processes: &[&str] = match host.os {
            _ if a.attack => &["sshd"],
            Os::Mac => &["loginwindow", "loginwindow", "screensaver", "sudo", "sshd"],
            Os::Windows => &["winlogon.exe", "winlogon.exe", "LogonUI.exe", "consent.exe"],
            Os::Linux => &["sshd", "sshd", "sudo", "gdm-password"],
        };
        let process = self.rng.pick(processes);
        let auth_method = match process {
            "sshd" if !a.attack && self.rng.chance(50) => "publickey",
            "consent.exe" => "other",
            _ if a.mfa && !a.attack => "mfa",
            _ => "password",
        };
        let logon_type = if process == "consent.exe" {
            "2"
        } else {
            self.rng.pick(&["2", "7", "10"])
        };
        let user = a.who.username.as_str();
        let [_, b, c, d] = (host.key ^ a.who.key).to_le_bytes()[..4] else {
            unreachable!()
        };
        let src = if a.attack {
            a.ip.addr
        } else {
            [10, b, c, 2 + d % 250]
        };
        let src = Text::new(format_args!("{}.{}.{}.{}", src[0], src[1], src[2], src[3]));
        let agent_ip = if a.attack {
            a.ip
        } else {
            self.ip(ev.org, host.key as usize % 50)
        };
        self.header(j, ev, "systems", "login_attempt");
        j.obj("system")
            .oid("id", host.id)
            .str("hostname", host.hostname.as_str());
        if !host.key.is_multiple_of(3) {
            j.str("displayName", host.hostname.as_str());
        }
        j.end();
        self.system_timestamp(j, ev);
        j.user_ref("initiated_by", "user", &a.who)
            .str("username", user);
        j.str("process_name", process)
            .str("auth_method", auth_method);
        let (verb, from) = match a.fail {
            None => ("User ", " logged in from "),
            Some(_) => ("Failed login for ", " from "),
        };
        j.parts(
            "message",
            &[verb, user, from, src.as_str(), ", process name: ", process],
        );
        if process == "sshd" {
            j.str("src_ip", src.as_str());
        }
        self.client(j, agent_ip);
        j.bool("mfa", a.mfa && !a.attack).outcome(a.fail);
        if host.os == Os::Windows {
            j.obj("windows_meta")
                .bool("elevated", process == "consent.exe");
            j.str("logon_type", logon_type).end();
        }
        j.str("provider", "").end();
    }

    /// `system_timestamp`: the device's local clock, in the organization's home time zone.
    fn system_timestamp(&self, j: &mut Json, ev: &Ev) {
        let offset = GEOS[self.orgs[ev.org].home.0].offset;
        push_local_time(j.key("system_timestamp").0, ev.t.div_euclid(NS), offset);
    }

    fn system_other(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _, who, res) = self.rng.weighted(&SYS_OTHER, |e| e.1);
        let host = self.zipf_host(ev.org);
        let owner = self.person(ev.org, host.owner);
        let admin = self.admin(ev.org);
        self.header(j, ev, "systems", event_type);
        self.system(j, &host);
        self.system_timestamp(j, ev);
        match who {
            Who::Subject => j.user_ref("initiated_by", "user", &owner),
            Who::Admin => j.admin("initiated_by", "admin", &admin),
            Who::System => j.obj("initiated_by").str("type", "system").end(),
        };
        if res == Res::User {
            j.person("resource", "user", &owner);
            j.str("username", owner.username.as_str());
        } else {
            self.resource_host(j, &host);
        }
        let (from, minor, major) = match host.os {
            Os::Mac => ("14.6", "14.6.1", "15.0.1"),
            Os::Windows => ("10.0.19045.4894", "10.0.19045.5011", "10.0.22631.4317"),
            Os::Linux => ("22.04.4", "22.04.5", "24.04.1"),
        };
        match event_type {
            "user_password_change" => j.raw("changes", r#"[{"field":"password"}]"#),
            "os_minor_upgrade" => j.change("os_version", from, minor),
            "os_major_upgrade" => j.change("os_version", from, major),
            _ => j,
        };
        j.bool("success", true).str("provider", "").end();
    }

    fn radius(&mut self, j: &mut Json, ev: &Ev, a: Attempt) {
        let user = a.who.username.as_str();
        let nas_rank = self.rng.index(4);
        let nas = if a.attack {
            a.ip
        } else {
            self.ip(ev.org, nas_rank)
        };
        let eap = !a.attack && self.rng.chance(70);
        let eap_types = [("PEAP", "MSCHAPv2"), ("PEAP", "GTC"), ("TTLS", "PAP")];
        let (outer, inner) = self.rng.pick(&eap_types);
        let state = self
            .rng
            .pick(&["disabled", "enabled", "enabled", "required", "always"]);
        let mfa = a.mfa && state != "disabled";
        let factor = self.rng.pick(&["totp", "push"]);
        self.header(j, ev, "radius", "radius_auth_attempt");
        j.str("username", user)
            .person("initiated_by", "user", &a.who);
        self.client(j, nas);
        j.str("auth_type", if eap { "eap" } else { "pap" });
        if eap {
            j.str("eap_type", inner).obj("outer").str("eap_type", outer);
            match a.fail {
                Some(_) => j.str("error_message", EAP_ERROR),
                None => j.null("error_message"),
            };
            j.str("username", user).end();
        }
        j.str("nas_mfa_state", state).bool("mfa", mfa);
        if mfa {
            j.obj("mfa_meta").str("type", factor).end();
        }
        j.outcome(a.fail).str("provider", "").end();
    }

    /// `connection_id` (32 random bytes in base64) and `operation_number` of an LDAP event.
    fn connection(&mut self, j: &mut Json, operation: u64) {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        j.str("connection_id", &base64(&bytes));
        j.num("operation_number", operation);
    }

    fn ldap_bind(&mut self, j: &mut Json, ev: &Ev, mut a: Attempt) {
        if !a.attack && self.rng.chance(25) {
            let name = self.rng.pick(&SERVICE_ACCOUNTS);
            a.who = self.account(ev.org, name, true);
        }
        let client_rank = 5 + self.rng.index(6);
        let ip = if a.attack {
            a.ip
        } else {
            self.ip(ev.org, client_rank)
        };
        let tls = self.rng.chance(80);
        let (user, org) = (a.who.username.as_str(), self.orgs[ev.org].id.hex());
        self.header(j, ev, "ldap", "ldap_bind");
        self.connection(j, 0);
        j.parts(
            "dn",
            &[
                "uid=",
                user,
                ",ou=Users,o=",
                org.as_str(),
                ",dc=jumpcloud,dc=com",
            ],
        );
        j.str("auth_method", "simple").str("mech", "simple");
        j.bool("start_tls", false).bool("tls_established", tls);
        j.str("username", user).ip("client_ip", ip);
        j.person("initiated_by", "user", &a.who);
        j.num("error_code", if a.fail.is_some() { 49 } else { 0 });
        j.outcome(a.fail).end();
    }

    fn ldap_search(&mut self, j: &mut Json, ev: &Ev) {
        let name = self.rng.pick(&SERVICE_ACCOUNTS);
        let account = self.account(ev.org, name, true);
        let target = self.zipf_person(ev.org);
        let operation = 1 + self.rng.below(30);
        let group = self.rng.pick(&GROUPS);
        let filter = if self.rng.chance(70) {
            [
                "(&(objectClass=inetOrgPerson)(uid=",
                target.username.as_str(),
                "))",
            ]
        } else {
            ["(&(objectClass=groupOfNames)(cn=", group, "))"]
        };
        let found = self.rng.chance(95);
        let org = self.orgs[ev.org].id.hex();
        let org = org.as_str();
        self.header(j, ev, "ldap", "ldap_search");
        self.connection(j, operation);
        j.parts(
            "dn",
            &["uid=", name, ",ou=Users,o=", org, ",dc=jumpcloud,dc=com"],
        );
        j.parts("base", &["ou=Users,o=", org, ",dc=jumpcloud,dc=com"]);
        j.num("scope", 2).num("deref", 0).parts("filter", &filter);
        j.str("attr", "uid cn mail memberOf");
        j.num("number_of_results", u64::from(found));
        j.str("username", name)
            .person("initiated_by", "user", &account);
        j.num("error_code", 0).bool("success", true).end();
    }

    fn mdm(&mut self, j: &mut Json, ev: &Ev) {
        let host = self.zipf_host(ev.org);
        let device = Oid::of(entity(host.key, Tag::Device, 0));
        let manager = Oid::of(entity(self.orgs[ev.org].key, Tag::Manager, 0));
        if self.rng.chance(10) {
            let enrollment = self.rng.chance(70);
            let event_type = if enrollment {
                "device_enrollment"
            } else {
                "configuration_file_download"
            };
            let uuid = Text::new(format_args!("{:016X}{:016X}", host.key, mix(host.key)));
            self.header(j, ev, "mdm", event_type);
            j.str("mdm_type", "windows").oid("mdm_device_id", device);
            j.oid("mdm_device_manager_id", manager);
            j.str("windows_device_uuid", uuid.as_str())
                .bool("success", true);
            j.str("result", "successful enrollment of device").end();
            return;
        }
        let &(request, _) = self.rng.weighted(&MDM_REQUESTS, |r| r.1);
        let status = match self.rng.below(100) {
            0..94 => "Acknowledged",
            94..97 => "Error",
            _ => "NotNow",
        };
        let (uuid_hi, uuid_lo) = (self.rng.next_u64(), self.rng.next_u64());
        self.header(j, ev, "mdm", "mdm_command_result");
        j.str("mdm_type", "apple").str("request_type", request);
        j.oid("mdm_device_id", device);
        j.oid("mdm_device_manager_id", manager);
        j.obj("command").str("request_type", request);
        if request == "InstallProfile" {
            j.str("payload", &self.install_payload);
        }
        j.end().uuid("command_uuid", uuid_hi, uuid_lo, false);
        if status == "Error" {
            j.arr("error_chain").item().num("error_code", 12021);
            j.str("error_domain", "MCMDMErrorDomain");
            j.str("localized_description", MDM_ERROR);
            j.str("us_english_description", MDM_ERROR).end().end_arr();
        } else {
            j.null("error_chain");
        }
        j.str("status", status);
        if status == "Acknowledged" {
            self.mdm_result(j, request, &host);
        }
        j.end();
    }

    /// The response of an acknowledged Apple MDM command; profile lists run to several KB.
    fn mdm_result(&mut self, j: &mut Json, request: &str, host: &Host) {
        match request {
            "ProfileList" => {
                j.arr("profile_list");
                for &profile in PROFILES.iter().take(2 + self.rng.index(5)) {
                    self.profile(j, profile);
                }
                j.end_arr();
            }
            "InstalledApplicationList" => {
                j.arr("installed_application_list");
                let apps = SOFTWARE.iter().cycle().take(10 + self.rng.index(25));
                for (i, &Software(name, _, _, version, bundle)) in apps.enumerate() {
                    let size = 40_000_000 + (host.key >> (i % 32)) % 900_000_000;
                    j.item().num("bundle_size", size).str("identifier", bundle);
                    j.str("name", name).str("short_version", version);
                    j.str("version", version).end();
                }
                j.end_arr();
            }
            "DeviceInformation" => {
                let serial = Text::new(format_args!("C02{:08X}", (host.key >> 20) as u32));
                let free = 100_000_000_000 + host.key % 800_000_000_000;
                j.obj("query_responses");
                j.str("device_name", host.hostname.as_str());
                j.str("os_version", "15.0.1").str("build_version", "24A348");
                j.str("model_name", "MacBook Pro").str("model", "Mac15,3");
                j.str("serial_number", serial.as_str());
                j.num("device_capacity", 994_662_584_320);
                j.num("available_device_capacity", free).end();
            }
            "SecurityInfo" => {
                let fde = !host.key.is_multiple_of(10);
                j.obj("security_info").bool("fde_enabled", fde);
                j.obj("firewall_settings").bool("firewall_enabled", true);
                j.bool("stealth_mode", false).end();
                j.bool("system_integrity_protection_enabled", true).end();
            }
            _ => {}
        }
    }

    /// One `profile_list` entry with its signer certificate (about 2 KB).
    fn profile(&mut self, j: &mut Json, (suffix, name, payload_type): (&str, &str, &str)) {
        let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
        let certificate = self.certificates[self.rng.index(self.certificates.len())].as_str();
        let identifier = ["com.jumpcloud.", suffix];
        j.item().bool("payload_removal_disallowed", true);
        j.strs("signer_certificates", &[certificate]);
        j.parts("payload_identifier", &identifier);
        j.bool("is_encrypted", false)
            .uuid("payload_uuid", a, b, false);
        j.str("payload_organization", "JumpCloud");
        j.bool("has_removal_passcode", false);
        j.str("payload_display_name", name);
        j.str("payload_description", "").num("payload_verion", 1);
        j.arr("payload_content")
            .item()
            .str("payload_type", payload_type);
        j.num("payload_version", 1)
            .parts("payload_identifier", &identifier);
        j.uuid("payload_uuid", b, a, false).end().end_arr();
        j.bool("is_managed", true).end();
    }

    fn software(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _) = self.rng.weighted(&SOFTWARE_EVENTS, |e| e.1);
        let Software(name, publisher, from, to, _) = self.rng.pick(&SOFTWARE);
        let host = self.zipf_host(ev.org);
        let admin = self.admin(ev.org);
        let version = if event_type.starts_with("software_remove") {
            from
        } else {
            to
        };
        self.header(j, ev, "software", event_type);
        j.obj("system")
            .oid("id", host.id)
            .str("type", "system")
            .end();
        j.obj("resource")
            .oid("id", host.id)
            .str("type", "system")
            .end();
        j.obj("application")
            .str("name", name)
            .str("version", version);
        j.str("publisher", publisher);
        match host.os {
            Os::Windows => {
                j.parts("path", &["C:\\Program Files\\", name, "\\"]);
                let uninstall = ["\"C:\\Program Files\\", name, "\\uninstall.exe\" /S"];
                j.parts("uninstall_string", &uninstall)
            }
            Os::Mac => j.parts("path", &["/Applications/", name, ".app"]),
            Os::Linux => j.parts("path", &["/opt/", name]),
        };
        j.end();
        if event_type.starts_with("software_change") {
            j.change("version", from, to);
        }
        if event_type.ends_with("_request") {
            j.admin("initiated_by", "admin", &admin);
            j.str("app_management_source", "JumpCloud App Catalog");
        }
        j.str("provider", "").end();
    }

    fn password_manager(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _) = self.rng.weighted(&PM_EVENTS, |e| e.1);
        let user = self.zipf_person(ev.org);
        let fail = self.rng.chance(1).then_some("invalid pincode");
        self.header(j, ev, "password_manager", event_type);
        self.initiated_by(j, &Actor::User(user), "user_agent");
        if event_type == "passwordmanager_folder_update" {
            j.change("folder name", "", "NB folder");
        }
        j.outcome(fail).null("provider").end();
    }

    fn saas(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _, who, detail) = self.rng.weighted(&SAAS_EVENTS, |e| e.1);
        let App(label, name, category) = APPS[self.apps.sample(self.rng.next_u64())];
        let user = self.zipf_person(ev.org);
        let actor = self.actor_for(who, &user);
        self.header(j, ev, "saas_app_management", event_type);
        self.initiated_by(j, &actor, "useragent");
        j.str("username", user.username.as_str());
        j.obj("resource").str("application_id", name);
        j.str("application_name", label);
        j.str("application_category", category).end();
        j.str("detail", detail);
        if event_type == "saas_management_application_update" {
            j.change("status", "UNAPPROVED", "APPROVED");
        }
        j.end();
    }

    fn alerts(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _) = self.rng.weighted(&ALERT_EVENTS, |e| e.1);
        let rule = self.rng.index(ALERT_RULES.len());
        let (rule_name, category, severity) = ALERT_RULES[rule];
        let rule_id = Oid::of(entity(self.orgs[ev.org].key, Tag::Rule, rule));
        let user = self.zipf_person(ev.org);
        let who = if event_type == "alert_created" {
            Who::System
        } else {
            Who::Admin
        };
        let actor = self.actor_for(who, &user);
        let alert = Oid::of(self.rng.next_u64());
        self.header(j, ev, "alerts", event_type);
        self.initiated_by(j, &actor, "useragent");
        j.str("category", category).str("severity", severity);
        j.obj("correlation").oid("id", rule_id).end();
        j.obj("resource")
            .oid("id", alert)
            .str("source_type", "user");
        j.oid("source_id", Oid::of(user.key));
        j.str("reference_id", rule_name).end();
        j.str("username", user.username.as_str());
        if event_type == "alert_status_updated" {
            j.change("Status", "Open", "Acknowledged");
        }
        j.bool("success", true).end();
    }

    fn object_storage(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _) = self.rng.weighted(&STORAGE_EVENTS, |e| e.1);
        let item = self.rng.index(SOFTWARE.len());
        let key = entity(self.orgs[ev.org].key, Tag::Object, item);
        let host = self.zipf_host(ev.org);
        let [a, b, c, d] = [mix(key), mix(key ^ 1), mix(key ^ 2), mix(key ^ 3)];
        let sha256 = Text::new(format_args!("{a:016x}{b:016x}{c:016x}{d:016x}"));
        self.header(j, ev, "object_storage", event_type);
        j.str("result", "Success")
            .str("referrer_type", "SOFTWARE_APP");
        j.oid("referrer_object_id", Oid::of(key ^ 1));
        j.oid("object_storage_item_object_id", Oid::of(key));
        j.oid("object_storage_item_version_object_id", Oid::of(key ^ 2));
        j.parts(
            "object_storage_item_version_name",
            &[SOFTWARE[item].0, ".pkg"],
        );
        j.num(
            "object_storage_item_version_size",
            20_000_000 + key % 300_000_000,
        );
        j.str("object_storage_item_version_sha_256_sum", sha256.as_str());
        j.num("total_software_item_count", SOFTWARE.len() as u64);
        j.num("total_space_used", 2_345_234_523);
        if event_type == "object_storage_get_download_url_request" {
            j.oid("system_object_id", host.id);
        }
        j.end();
    }

    fn access_management(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _, who) = self.rng.weighted(&ACCESS_EVENTS, |e| e.1);
        let (group, group_name) = self.catalogued(ev.org, Tag::Group, &GROUPS);
        let requester = self.zipf_person(ev.org);
        let actor = self.actor_for(who, &requester);
        let decision = if self.rng.chance(85) {
            "approved"
        } else {
            "denied"
        };
        self.header(j, ev, "access_management", event_type);
        self.initiated_by(j, &actor, "user_agent");
        j.oid("access_request_id", Oid::of(requester.key ^ group.bits));
        j.named("resource", group, "user_group", group_name);
        j.obj("workflow").oid("id", Oid::of(group.bits));
        j.str("type", "access-workflow")
            .parts("name", &[group_name, " access"]);
        j.str("desc", "Time-bound access with manager approval")
            .end();
        if event_type == "access_management_access_request_approval" {
            j.change("status", "pending", decision);
        }
        j.bool("success", true).null("provider").end();
    }

    fn reports(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _) = self.rng.weighted(&REPORT_EVENTS, |e| e.1);
        let (report, name) = self.catalogued(ev.org, Tag::Report, &REPORTS);
        let admin = Actor::Admin(self.admin(ev.org));
        self.header(j, ev, "reports", event_type);
        self.initiated_by(j, &admin, "user_agent");
        j.str("auth_method", "session");
        j.obj("resource").str("name", name).oid("id", report);
        j.strs("resources", &["users", "devices"]).end();
        if event_type == "report_update" {
            j.change("name", "users-to-devices", name);
        }
        j.null("provider").end();
    }

    fn asset_management(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _, detail) = self.rng.weighted(&ASSET_EVENTS, |e| e.1);
        let admin = self.admin(ev.org);
        let host = self.zipf_host(ev.org);
        let asset = Text::new(format_args!("{:08X}{:016X}", host.id.secs, host.id.bits));
        self.header(j, ev, "asset_management", event_type);
        self.initiated_by(j, &Actor::Admin(admin), "useragent");
        j.str("username", admin.username.as_str());
        j.obj("resource")
            .str("id", asset.as_str())
            .str("type", "DEVICE")
            .end();
        if event_type == "asset_management_asset_update" {
            j.change("Name", "Desktop-01", host.hostname.as_str());
        }
        j.str("detail", detail).end();
    }

    fn notifications(&mut self, j: &mut Json, ev: &Ev) {
        let &(event_type, _) = self.rng.weighted(&NOTIFICATION_EVENTS, |e| e.1);
        let admin = self.admin(ev.org);
        let channel = Oid::of(entity(self.orgs[ev.org].key, Tag::Channel, 0));
        self.header(j, ev, "notifications", event_type);
        self.initiated_by(j, &Actor::Admin(admin), "useragent");
        j.str("name", "software install failed notification channel");
        j.str("type", "email").oid("channel_object_id", channel);
        j.str(
            "description",
            "Notifies the admins when a software install fails",
        );
        j.arr("config").item().str("name", admin.username.as_str());
        j.email("email", &admin).end().end_arr();
        j.bool("success", true).end();
    }
}

/// `changes` of `user_create`: the new account's attributes, `to` only.
fn user_create_changes(j: &mut Json, p: &Person) {
    j.arr("changes");
    let names = [
        ("username", p.username.as_str()),
        ("firstname", p.first),
        ("lastname", p.last),
    ];
    for (field, value) in names {
        j.item().str("field", field).str("to", value).end();
    }
    j.item().str("field", "email").email("to", p).end();
    j.item().str("field", "activated").bool("to", false).end();
    j.item().str("field", "state").str("to", "STAGED").end();
    j.end_arr();
}
#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::OnceLock;

    use serde_json::Value;

    use super::*;

    const AUTH_EVENTS: [&str; 6] = [
        "sso_auth",
        "user_login_attempt",
        "admin_login_attempt",
        "login_attempt",
        "radius_auth_attempt",
        "ldap_bind",
    ];

    fn options(events: u64, seed: u64) -> GenerateOptions {
        GenerateOptions {
            events,
            days: 2,
            orgs: 3,
            seed,
            ..GenerateOptions::default()
        }
    }

    fn render(opts: &GenerateOptions) -> Vec<u8> {
        let mut out = Vec::new();
        let written = generate(opts, &mut out).expect("writing to a Vec cannot fail");
        assert_eq!(written, opts.events);
        out
    }

    fn parse(bytes: &[u8]) -> Vec<Value> {
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        assert_eq!(lines.pop(), Some(&b""[..]), "output ends with a newline");
        let parsed = lines.iter().enumerate().map(|(i, line)| {
            serde_json::from_slice(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1))
        });
        parsed.collect()
    }

    /// 20,000 events over two days in three organizations, rendered and parsed once.
    fn sample() -> &'static (Vec<u8>, Vec<Value>) {
        static SAMPLE: OnceLock<(Vec<u8>, Vec<Value>)> = OnceLock::new();
        SAMPLE.get_or_init(|| {
            let bytes = render(&options(20_000, 7));
            let events = parse(&bytes);
            (bytes, events)
        })
    }

    fn text<'a>(event: &'a Value, key: &str) -> &'a str {
        event[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing in {event}"))
    }

    fn nanos(timestamp: &str) -> i64 {
        let parsed = chrono::DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339 timestamp");
        parsed.timestamp_nanos_opt().expect("timestamp in range")
    }

    fn is_hex24(s: &str) -> bool {
        s.len() == 24
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    fn is_upper_uuid(s: &str) -> bool {
        let groups: Vec<&str> = s.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        lengths == [8, 4, 4, 4, 12]
            && groups.iter().all(|g| {
                g.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            })
    }

    #[test]
    fn same_seed_gives_identical_bytes() {
        assert_eq!(render(&options(3_000, 7)), render(&options(3_000, 7)));
    }

    #[test]
    fn different_seed_gives_different_bytes() {
        assert_ne!(render(&options(3_000, 7)), render(&options(3_000, 8)));
    }

    #[test]
    fn writes_exactly_the_requested_number_of_lines() {
        for events in [0, 1, 1_999, 2_500] {
            let bytes = render(&options(events, 1));
            assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count() as u64, events);
            assert_eq!(parse(&bytes).len() as u64, events);
        }
    }

    #[test]
    fn every_event_has_the_required_fields() {
        for event in &sample().1 {
            assert!(event.is_object());
            assert_eq!(text(event, "@version"), "1");
            let (id, event_type) = (text(event, "id"), text(event, "event_type"));
            if event_type == "radius_auth_attempt" {
                assert!(is_upper_uuid(id), "radius id {id}");
            } else {
                assert!(is_hex24(id), "id {id}");
            }
            assert!(is_hex24(text(event, "organization")));
            assert!(!text(event, "service").is_empty());
            nanos(text(event, "timestamp"));
            if event_type == "sso_auth" {
                assert!(event.get("success").is_none() && event["sso_token_success"].is_boolean());
            } else if AUTH_EVENTS.contains(&event_type) {
                assert!(event["success"].is_boolean(), "{event}");
            }
        }
    }

    #[test]
    fn ids_are_unique() {
        let events = &sample().1;
        let ids: HashSet<&str> = events.iter().map(|e| text(e, "id")).collect();
        assert_eq!(ids.len(), events.len());
    }

    #[test]
    fn timestamps_stay_in_range_and_about_one_percent_arrive_late() {
        let events = &sample().1;
        let start = nanos("2026-10-01T00:00:00Z");
        let end = start + 2 * 86_400 * 1_000_000_000;
        let (mut latest, mut late) = (i64::MIN, 0);
        for event in events {
            let t = nanos(text(event, "timestamp"));
            assert!((start..end).contains(&t), "{t} out of range");
            if t < latest {
                late += 1;
                assert!(
                    latest - t <= 31 * 60 * 1_000_000_000,
                    "at most ~30 minutes late"
                );
            }
            latest = latest.max(t);
        }
        let share = f64::from(late) / events.len() as f64;
        assert!((0.005..0.015).contains(&share), "late share {share}");
    }

    #[test]
    fn auth_failure_share_is_between_3_and_8_percent() {
        let auth: Vec<&Value> = sample()
            .1
            .iter()
            .filter(|e| AUTH_EVENTS.contains(&text(e, "event_type")))
            .collect();
        let failed = auth.iter().filter(|e| {
            let outcome = if text(e, "event_type") == "sso_auth" {
                "sso_token_success"
            } else {
                "success"
            };
            e[outcome] == Value::Bool(false)
        });
        let share = failed.count() as f64 / auth.len() as f64;
        assert!((0.03..=0.08).contains(&share), "failure share {share}");
        assert!(
            auth.len() as f64 > 0.7 * sample().1.len() as f64,
            "sign-ins dominate"
        );
    }

    #[test]
    fn mean_line_size_is_realistic() {
        let (bytes, events) = sample();
        let mean = bytes.len() as f64 / events.len() as f64;
        assert!((700.0..=860.0).contains(&mean), "mean line size {mean}");
    }

    #[test]
    fn organizations_are_distinct_and_the_first_is_busiest() {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for event in &sample().1 {
            *counts.entry(text(event, "organization")).or_default() += 1;
        }
        let mut sizes: Vec<usize> = counts.values().copied().collect();
        sizes.sort_unstable();
        assert_eq!(sizes.len(), 3);
        assert!(
            sizes[2] > 2 * sizes[1],
            "first organization much busier: {sizes:?}"
        );
    }

    #[test]
    fn brute_force_bursts_fail_from_attacker_addresses() {
        let attacks: Vec<&Value> = sample()
            .1
            .iter()
            .filter(|e| {
                e["client_ip"]
                    .as_str()
                    .is_some_and(|ip| ip.starts_with("185.220.101."))
            })
            .collect();
        assert!(attacks.len() >= 20, "{} attack events", attacks.len());
        assert!(attacks.iter().all(|e| e["success"] == Value::Bool(false)));
        let countries: HashSet<&str> = attacks
            .iter()
            .filter_map(|e| e["geoip"]["country_code"].as_str())
            .collect();
        assert!(
            countries.iter().all(|c| ["RU", "CN", "KP"].contains(c)),
            "{countries:?}"
        );
    }

    #[test]
    fn real_event_quirks_are_present() {
        let (bytes, events) = sample();
        let raw = String::from_utf8_lossy(bytes);
        for needle in [
            "\"payload_verion\":1",
            "\"auth_method\":\"api key\"",
            "\"auth_method\":\"other\"",
            "\"provider\":null",
            "\"provider\":\"\"",
            "\"user_agent\":{",
            "\"useragent\":{",
            "\"mdm_device_id\":",
        ] {
            assert!(raw.contains(needle), "missing {needle}");
        }
        let digits: HashSet<usize> = events
            .iter()
            .map(|e| {
                let t = text(e, "timestamp");
                t.find('.').map_or(0, |dot| t.len() - dot - 2)
            })
            .collect();
        for expected in [0, 3, 6, 8, 9] {
            assert!(
                digits.contains(&expected),
                "no timestamp with {expected} fractional digits"
            );
        }
        let mut kinds = HashSet::new();
        for change in events
            .iter()
            .filter_map(|e| e["changes"].as_array())
            .flatten()
        {
            for side in ["from", "to"] {
                if let Some(value) = change.get(side) {
                    kinds.insert(std::mem::discriminant(value));
                }
            }
        }
        assert!(
            kinds.len() >= 5,
            "changes[].from/to use string, bool, null, array and object"
        );
        assert!(
            events
                .iter()
                .any(|e| e["service"] == "mdm" && e.to_string().len() > 4_000)
        );
    }

    #[test]
    fn rejects_start_dates_beyond_nanosecond_timestamps() {
        let start = NaiveDate::from_ymd_opt(2300, 1, 1).expect("valid date");
        let opts = GenerateOptions {
            start,
            ..GenerateOptions::default()
        };
        let error = generate(&opts, &mut Vec::new()).expect_err("2300 is out of range");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        let mut out = Vec::new();
        escape_into(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "a\\\"b\\\\c\\nd\\u0001é".as_bytes());
        let parsed: String =
            serde_json::from_slice(&[b"\"", &out[..], b"\""].concat()).expect("valid");
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn formats_timestamps_with_each_precision() {
        let t = nanos("2026-10-01T08:16:06.495123450Z");
        let cases = [
            (Frac::Secs, "2026-10-01T08:16:06Z"),
            (Frac::Millis, "2026-10-01T08:16:06.495Z"),
            (Frac::Micros, "2026-10-01T08:16:06.495123Z"),
            (Frac::Nanos, "2026-10-01T08:16:06.49512345Z"),
        ];
        for (frac, expected) in cases {
            let mut out = Vec::new();
            push_timestamp(&mut out, t, frac);
            assert_eq!(String::from_utf8_lossy(&out), expected);
        }
        let mut out = Vec::new();
        push_timestamp(&mut out, nanos("1969-12-31T23:59:59.5Z"), Frac::Millis);
        assert_eq!(String::from_utf8_lossy(&out), "1969-12-31T23:59:59.500Z");
    }
}
