//! Device families: other device events, MDM enrollments and command results, software
//! inventory.

use super::catalogue::{
    MDM_ERROR, MDM_REQUESTS, PROFILES, Res, SOFTWARE, SOFTWARE_EVENTS, SYS_OTHER, Software, Who,
};
use super::entities::{Host, Oid, Os, Tag, Text, entity};
use super::generator::{Ev, Generator};
use super::json::Json;
use super::rng::mix;

impl Generator {
    pub(super) fn system_other(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn mdm(&mut self, j: &mut Json<'_>, ev: &Ev) {
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
    fn mdm_result(&mut self, j: &mut Json<'_>, request: &str, host: &Host) {
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
    fn profile(&mut self, j: &mut Json<'_>, (suffix, name, payload_type): (&str, &str, &str)) {
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

    pub(super) fn software(&mut self, j: &mut Json<'_>, ev: &Ev) {
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
}
