//! Entities derived by hashing (organization, rank): organizations, users, hosts, client
//! addresses, and the sign-in attempts and actors built from them.

use std::fmt::{self, Write as _};

use super::catalogue::{
    ADMIN_RANKS, ATTACKERS, DICTIONARY, FIRST, GEOS, HOMES, LAST, LEGACY_USERAGENTS, NORMAL_GEOS,
    UA_ATTACK, USERAGENTS, Who,
};
use super::generator::Generator;
use super::rng::{Rng, mix};
use super::{FAIL_PER_10K, USERS};

/// Kinds of derived entities, keeping their hashes apart.
#[derive(Clone, Copy)]
pub(super) enum Tag {
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
pub(super) fn entity(org_key: u64, tag: Tag, rank: usize) -> u64 {
    mix(org_key ^ mix(((tag as u64) << 40) ^ rank as u64))
}

/// A short ASCII string kept on the stack; longer input is cut off.
#[derive(Clone, Copy)]
pub(super) struct Text {
    len: u8,
    buf: [u8; 64],
}

impl Text {
    pub(super) fn new(args: fmt::Arguments<'_>) -> Self {
        let mut text = Self {
            len: 0,
            buf: [0; 64],
        };
        // Writing to a Text never fails; it truncates instead.
        let _ = text.write_fmt(args);
        text
    }

    pub(super) fn as_str(&self) -> &str {
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
pub(super) struct Oid {
    pub(super) secs: u32,
    pub(super) bits: u64,
}

impl Oid {
    /// An id created between 2019 and 2024, derived from a hash.
    pub(super) fn of(hash: u64) -> Self {
        Self {
            secs: 0x5C00_0000 + (hash >> 40) as u32 % 0x0B00_0000,
            bits: mix(hash),
        }
    }

    pub(super) fn hex(self) -> Text {
        Text::new(format_args!("{:08x}{:016x}", self.secs, self.bits))
    }
}

/// An organization.
pub(super) struct Org {
    pub(super) key: u64,
    pub(super) id: Oid,
    /// Number in the e-mail domain `example<N>.com` (1-based).
    pub(super) number: u64,
    /// Range of GEOS in the home country: first index and count.
    pub(super) home: (usize, usize),
}

/// A user; names that attackers make up are unknown (no id).
#[derive(Clone, Copy)]
pub(super) struct Person {
    pub(super) key: u64,
    pub(super) id: Option<Oid>,
    pub(super) username: Text,
    pub(super) first: &'static str,
    pub(super) last: &'static str,
    pub(super) org: usize,
    pub(super) domain: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Os {
    Mac,
    Windows,
    Linux,
}

/// A managed device.
pub(super) struct Host {
    pub(super) key: u64,
    pub(super) id: Oid,
    pub(super) hostname: Text,
    pub(super) os: Os,
    /// Rank of the user the device belongs to.
    pub(super) owner: usize,
}

/// A client address and its location (index into GEOS); `coarse` lookups have no coordinates.
#[derive(Clone, Copy)]
pub(super) struct Ip {
    pub(super) addr: [u8; 4],
    pub(super) geo: usize,
    pub(super) coarse: bool,
}

/// Who initiated an admin-side event.
#[derive(Clone, Copy)]
pub(super) enum Actor {
    User(Person),
    Admin(Person),
    Api(Person),
    System,
}

/// A sign-in attempt: who, from where, with what, and how it ended.
pub(super) struct Attempt {
    pub(super) who: Person,
    pub(super) ip: Ip,
    pub(super) ua: &'static str,
    pub(super) fail: Option<&'static str>,
    pub(super) mfa: bool,
    pub(super) attack: bool,
}

impl Generator {
    pub(super) fn person(&self, org: usize, rank: usize) -> Person {
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

    pub(super) fn zipf_person(&mut self, org: usize) -> Person {
        let rank = self.users.sample(self.rng.next_u64());
        self.person(org, rank)
    }

    pub(super) fn admin(&mut self, org: usize) -> Person {
        let i = self.rng.index(ADMIN_RANKS.len());
        let mut admin = self.person(org, ADMIN_RANKS[i]);
        admin.id = Some(Oid::of(entity(self.orgs[org].key, Tag::Admin, i)));
        admin
    }

    /// A service account (`known`), or a name that does not exist.
    pub(super) fn account(&self, org: usize, name: &'static str, known: bool) -> Person {
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

    pub(super) fn host(&self, org: usize, rank: usize) -> Host {
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

    pub(super) fn zipf_host(&mut self, org: usize) -> Host {
        let rank = self.hosts.sample(self.rng.next_u64());
        self.host(org, rank)
    }

    /// Address `rank` of an organization: 75% in its home country.
    pub(super) fn ip(&self, org: usize, rank: usize) -> Ip {
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
    pub(super) fn person_ip(&mut self, p: &Person) -> Ip {
        let draw = if self.rng.chance(70) {
            mix(p.key ^ 0x1F)
        } else {
            self.rng.next_u64()
        };
        self.ip(p.org, self.ips.sample(draw))
    }

    /// The browser a person usually uses (85%), or any of the same rendering.
    pub(super) fn user_agent(&mut self, p: &Person) -> &'static str {
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

    pub(super) fn attempt(&mut self, org: usize, errors: &[&'static str]) -> Attempt {
        let who = self.zipf_person(org);
        self.attempt_by(who, errors)
    }

    /// An ordinary sign-in by `who`: 3.8% fail with one of `errors`.
    pub(super) fn attempt_by(&mut self, who: Person, errors: &[&'static str]) -> Attempt {
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
    pub(super) fn attack(&mut self, burst: usize, org: usize) -> Attempt {
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
    pub(super) fn actor_for(&mut self, who: Who, subject: &Person) -> Actor {
        let admin = self.admin(subject.org);
        match (who, self.rng.below(100)) {
            (Who::Subject, _) => Actor::User(*subject),
            (Who::System, _) | (Who::Admin, 95..) => Actor::System,
            (Who::Admin, 80..) => Actor::Api(admin),
            (Who::Admin, _) => Actor::Admin(admin),
        }
    }

    /// An entity of a small per-organization catalogue (groups, policies, ...): id and name.
    pub(super) fn catalogued(
        &mut self,
        org: usize,
        tag: Tag,
        names: &[&'static str],
    ) -> (Oid, &'static str) {
        let i = self.rng.index(names.len());
        (Oid::of(entity(self.orgs[org].key, tag, i)), names[i])
    }
}

pub(super) fn new_org(rng: &mut Rng, index: usize) -> Org {
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
