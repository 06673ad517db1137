//! The smaller services: password manager, SaaS management, alerts, object storage, access
//! management, reports, asset management and notifications.

use super::catalogue::{
    ACCESS_EVENTS, ALERT_EVENTS, ALERT_RULES, APPS, ASSET_EVENTS, App, GROUPS, NOTIFICATION_EVENTS,
    PM_EVENTS, REPORT_EVENTS, REPORTS, SAAS_EVENTS, SOFTWARE, STORAGE_EVENTS, Who,
};
use super::entities::{Actor, Oid, Tag, Text, entity};
use super::generator::{Ev, Generator};
use super::json::Json;
use super::rng::mix;

impl Generator {
    pub(super) fn password_manager(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn saas(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn alerts(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn object_storage(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn access_management(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn reports(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn asset_management(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn notifications(&mut self, j: &mut Json<'_>, ev: &Ev) {
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
