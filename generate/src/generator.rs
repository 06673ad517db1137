//! The generator core: timing (background slots, brute-force bursts, late events), the event
//! dispatch, and the members that the event families share.

use std::io;

use chrono::NaiveTime;

use super::catalogue::{
    APPS, ATTACKERS, GEOS, Geo, INSTALL_PLIST, KINDS, Kind, MFA_TYPES, POLICIES, RADIUS_ERRORS,
    SYSTEM_ERRORS, UA_API, USER_ERRORS,
};
use super::entities::{Actor, Attempt, Host, Ip, Oid, Org, Tag, entity, new_org};
use super::json::{Frac, Json, base64, push_local_time, push_timestamp};
use super::rng::{Cdf, Rng, mix, zipf_weight};
use super::{GenerateOptions, HOSTS, IPS, LATE_PER_10K, MAX_DAYS, MAX_ORGS, NS, USERS};

/// The state of one [`generate`](super::generate) run: the random stream, the clock, the
/// organizations and the distributions that events are drawn from.
pub(super) struct Generator {
    pub(super) rng: Rng,
    /// Key of the bijection that turns the event sequence number into unique id bits.
    id_key: u64,
    start: i64,
    end: i64,
    /// Timestamp of the latest in-order event; later ones never go below it.
    last: i64,
    seq: u64,
    pub(super) orgs: Vec<Org>,
    org_cdf: Cdf,
    pub(super) users: Cdf,
    pub(super) hosts: Cdf,
    pub(super) ips: Cdf,
    pub(super) apps: Cdf,
    /// Rendered `geoip` objects: two per location, with and without coordinates.
    geo_json: Vec<String>,
    background: Background,
    pub(super) bursts: Vec<Burst>,
    burst_at: usize,
    pub(super) certificates: Vec<String>,
    pub(super) install_payload: String,
}

/// The evenly spread events (all but the bursts): how many, how many are out, and the time of
/// the next one once drawn.
struct Background {
    total: u64,
    done: u64,
    next: Option<i64>,
}

/// A planned brute-force burst: `size` guesses `step` apart from `start`.
pub(super) struct Burst {
    start: i64,
    step: i64,
    size: u32,
    done: u32,
    kind: Kind,
    pub(super) attacker: usize,
    org: usize,
    host: usize,
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
pub(super) struct Ev {
    pub(super) org: usize,
    t: i64,
    frac: Frac,
    seq: u64,
}

impl Generator {
    /// Fails when the time range does not fit in i64 nanoseconds (about 1678 to 2262).
    pub(super) fn new(opts: &GenerateOptions) -> io::Result<Self> {
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
    pub(super) fn event(&mut self, buf: &mut Vec<u8>) {
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
            let delay = 60 * NS + self.rng.below(29 * 60 * NS as u64).cast_signed();
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

    pub(super) fn header(&mut self, j: &mut Json<'_>, ev: &Ev, service: &str, event_type: &str) {
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
    pub(super) fn client(&self, j: &mut Json<'_>, ip: Ip) {
        let geo = &self.geo_json[ip.geo * 2 + usize::from(ip.coarse)];
        j.ip("client_ip", ip).raw("geoip", geo);
    }

    /// `client_ip`, `geoip` and the user agent under `ua_key`.
    pub(super) fn origin(&self, j: &mut Json<'_>, ip: Ip, ua_key: &str, ua: &str) {
        self.client(j, ip);
        j.raw(ua_key, ua);
    }

    /// `initiated_by`, and for people where they came from.
    pub(super) fn initiated_by(&mut self, j: &mut Json<'_>, actor: &Actor, ua_key: &str) {
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
    pub(super) fn auth_context(&mut self, j: &mut Json<'_>, a: &Attempt) {
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
    pub(super) fn system(&self, j: &mut Json<'_>, host: &Host) {
        let hostname = host.hostname.as_str();
        j.obj("system")
            .oid("id", host.id)
            .str("hostname", hostname)
            .end();
    }

    pub(super) fn resource_host(&self, j: &mut Json<'_>, host: &Host) {
        let hostname = host.hostname.as_str();
        j.obj("resource").oid("id", host.id).str("type", "system");
        j.str("hostname", hostname).end();
    }

    /// `system_timestamp`: the device's local clock, in the organization's home time zone.
    pub(super) fn system_timestamp(&self, j: &mut Json<'_>, ev: &Ev) {
        let offset = GEOS[self.orgs[ev.org].home.0].offset;
        push_local_time(j.key("system_timestamp").0, ev.t.div_euclid(NS), offset);
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
            let duration = (30 + rng.below(121)).cast_signed() * NS;
            let offset = rng.below((span - 600 * NS) as u64).cast_signed();
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
