//! Sign-in families: SSO, User Portal and admin console logins, device logins, RADIUS and
//! LDAP.

use super::catalogue::{
    APPS, App, EAP_ERROR, GROUPS, MFA_TYPES, SERVICE_ACCOUNTS, SSO_ERRORS, USER_ERRORS,
};
use super::entities::{Attempt, Oid, Os, Tag, Text, entity};
use super::generator::{Ev, Generator};
use super::json::{Json, base64};

impl Generator {
    pub(super) fn sso(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn user_login(&mut self, j: &mut Json<'_>, ev: &Ev, a: Attempt) {
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

    pub(super) fn admin_login(&mut self, j: &mut Json<'_>, ev: &Ev) {
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

    pub(super) fn system_login(
        &mut self,
        j: &mut Json<'_>,
        ev: &Ev,
        mut a: Attempt,
        host_rank: usize,
    ) {
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

    pub(super) fn radius(&mut self, j: &mut Json<'_>, ev: &Ev, a: Attempt) {
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
    fn connection(&mut self, j: &mut Json<'_>, operation: u64) {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        j.str("connection_id", &base64(&bytes));
        j.num("operation_number", operation);
    }

    pub(super) fn ldap_bind(&mut self, j: &mut Json<'_>, ev: &Ev, mut a: Attempt) {
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

    pub(super) fn ldap_search(&mut self, j: &mut Json<'_>, ev: &Ev) {
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
}
