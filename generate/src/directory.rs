//! Admin-side directory changes: users, groups, devices, policies, applications, commands,
//! administrators and the organization.

use super::catalogue::{
    APPS, COMMANDS, DIR_CHANGES, DirChange, FIRST, GROUPS, LAST, POLICIES, Res,
};
use super::entities::{Actor, Oid, Person, Tag, Text, entity};
use super::generator::{Ev, Generator};
use super::json::Json;

impl Generator {
    pub(super) fn directory_change(&mut self, j: &mut Json<'_>, ev: &Ev) {
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
        j: &mut Json<'_>,
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
    fn rename(&mut self, j: &mut Json<'_>, p: &Person) {
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

    fn association(&mut self, j: &mut Json<'_>, user: &Person, group: Oid, group_name: &str) {
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
}

/// `changes` of `user_create`: the new account's attributes, `to` only.
fn user_create_changes(j: &mut Json<'_>, p: &Person) {
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
