//! Which company and branch an inbound call is for, and in which language to answer it.
//!
//! # Company
//! The company is taken from the dialled number (a number may be company-wide, bound to no
//! branch), else from the Retell agent id; a number and an agent id each belong to one company.
//! A branch hint never decides the company: slugs are unique only within a company, and anyone
//! can put one in a SIP header or the metadata, so a hint on a number and agent nobody owns
//! routes nowhere. Every rule below only looks at branches of that company (a slug is looked up
//! among them), so a hint can never route a call into another tenant: an explicit branch of
//! another company than the dialled number's is ignored.
//!
//! # Branch
//! The first rule that names a branch of the company wins, and the route records which one:
//!
//! | rule | method | confidence |
//! |------|--------|-----------:|
//! | branch named in Retell metadata or a custom SIP header (slug or id) | `explicit` | 1.0 |
//! | the dialled number is bound to a branch | `dialled_number` | 0.9 |
//! | the Retell agent id is bound to a branch | `agent_id` | 0.8 |
//! | the caller's last appointment or call was at a branch | `caller_history` | 0.7 |
//! | the caller's number starts with a branch's service-area prefix (longest wins) | `area_code` | 0.6 |
//! | the company's default branch | `company_default` | 0.5 |
//!
//! A branch that is inactive hands the call over to its fallback branch, following the chain
//! (same company only, at most [`MAX_FALLBACK_HOPS`] hops, cycles stop it), then to the company
//! default if that is active. The route keeps the winning rule's method and confidence (the rule
//! still decided where the call belongs) and records the inactive branch in `handed_over_from`.
//! When no active branch can be reached that way, the next rule is tried; only when every rule
//! fails is the call [`Routing::Unrouted`].
//!
//! The common case (a dialled number bound to an active branch, no hint) costs two lookups and
//! allocates nothing beyond what the lookups return.
//!
//! # Language
//! [`choose_language`]: the customer's stored preference, else what Retell detected, else the
//! language of the caller's country calling code ([`language_of_country`]), else the branch default.

use super::ids::{BranchId, CompanyId};
use super::language::Language;
use super::model::Branch;
use super::phone::E164Number;
use serde::Serialize;

/// How many fallback hops are followed before giving up; real chains are one or two long, and
/// the bound keeps a misconfigured chain from costing more than a few lookups.
pub const MAX_FALLBACK_HOPS: usize = 8;

/// The rule that decided a call's branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteMethod {
    /// A branch named in Retell metadata or a custom SIP header.
    Explicit,
    /// The dialled number is bound to the branch.
    DialledNumber,
    /// The Retell agent that answered is bound to the branch.
    AgentId,
    /// The caller's last appointment or call was at the branch.
    CallerHistory,
    /// The caller's number lies in the branch's service area.
    AreaCode,
    /// The company's default branch.
    CompanyDefault,
}

impl RouteMethod {
    /// Every rule, in the order they are tried (most to least certain).
    pub const ALL: [RouteMethod; 6] = [
        RouteMethod::Explicit,
        RouteMethod::DialledNumber,
        RouteMethod::AgentId,
        RouteMethod::CallerHistory,
        RouteMethod::AreaCode,
        RouteMethod::CompanyDefault,
    ];

    /// How sure the rule is that the call belongs to the branch, from 0.5 to 1.0.
    pub fn confidence(&self) -> f32 {
        match self {
            RouteMethod::Explicit => 1.0,
            RouteMethod::DialledNumber => 0.9,
            RouteMethod::AgentId => 0.8,
            RouteMethod::CallerHistory => 0.7,
            RouteMethod::AreaCode => 0.6,
            RouteMethod::CompanyDefault => 0.5,
        }
    }

    /// The spelling used in JSON, logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            RouteMethod::Explicit => "explicit",
            RouteMethod::DialledNumber => "dialled_number",
            RouteMethod::AgentId => "agent_id",
            RouteMethod::CallerHistory => "caller_history",
            RouteMethod::AreaCode => "area_code",
            RouteMethod::CompanyDefault => "company_default",
        }
    }
}

impl std::fmt::Display for RouteMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What routing needs to know about a branch (cached, cheap to clone).
#[derive(Clone, Debug, PartialEq)]
pub struct BranchFacts {
    /// Identity.
    pub id: BranchId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Stable handle, accepted as an explicit routing hint.
    pub slug: String,
    /// Whether the branch takes calls.
    pub active: bool,
    /// Where its calls go while it is inactive.
    pub fallback_branch_id: Option<BranchId>,
    /// E.164 prefixes (e.g. `+4930`) of the area the branch serves.
    pub service_area_prefixes: Vec<String>,
    /// Languages spoken at the branch; the first is the default.
    pub languages: Vec<Language>,
}

impl BranchFacts {
    /// The branch's default language (its first), German when none is configured, as
    /// [`Branch::default_language`] decides it.
    pub fn default_language(&self) -> Language {
        self.languages.first().copied().unwrap_or(Language::DE)
    }
}

impl From<&Branch> for BranchFacts {
    fn from(b: &Branch) -> Self {
        Self {
            id: b.id,
            company_id: b.company_id,
            slug: b.slug.clone(),
            active: b.active,
            fallback_branch_id: b.fallback_branch_id,
            service_area_prefixes: b.service_area_prefixes.clone(),
            languages: b.languages.clone(),
        }
    }
}

/// Where a dialled number or an agent id leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// The company it belongs to.
    pub company_id: CompanyId,
    /// The branch it is bound to; `None` when it serves the whole company.
    pub branch_id: Option<BranchId>,
}

/// Read access to the routing index (implemented over DashMaps by the registry, over HashMaps
/// in tests).
pub trait RoutingLookup {
    /// Where a dialled number leads.
    fn number(&self, number: &E164Number) -> Option<Destination>;
    /// Where a Retell agent id leads.
    fn agent(&self, agent_id: &str) -> Option<Destination>;
    /// The facts of a branch.
    fn branch(&self, id: BranchId) -> Option<BranchFacts>;
    /// The branch of `company` with this slug (slugs are unique within a company only).
    fn branch_by_slug(&self, company: CompanyId, slug: &str) -> Option<BranchId>;
    /// The company's default branch.
    fn company_default_branch(&self, company: CompanyId) -> Option<BranchId>;
    /// Calls `visit` for each branch of the company (for the area-code rule).
    fn for_each_branch_of(&self, company: CompanyId, visit: &mut dyn FnMut(&BranchFacts));
}

/// The facts of an inbound call that routing uses.
#[derive(Clone, Copy, Debug)]
pub struct InboundCall<'a> {
    /// The number the caller dialled.
    pub to_number: &'a E164Number,
    /// The caller's number, unless withheld.
    pub from_number: Option<&'a E164Number>,
    /// The Retell agent that answers.
    pub agent_id: Option<&'a str>,
    /// A branch slug or id from Retell metadata or a custom SIP header.
    pub explicit_branch: Option<&'a str>,
    /// The branch of the caller's last appointment or call with the company.
    pub caller_history: Option<BranchId>,
}

/// Where a call was routed, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// The company the call is for.
    pub company_id: CompanyId,
    /// The active branch that takes the call.
    pub branch_id: BranchId,
    /// The rule that decided.
    pub method: RouteMethod,
    /// The rule's confidence ([`RouteMethod::confidence`]).
    pub confidence: f32,
    /// The inactive branch the rule named, when the call was handed over from it.
    pub handed_over_from: Option<BranchId>,
}

/// The outcome of routing a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Routing {
    /// An active branch takes the call.
    Routed(Route),
    /// Nobody can take the call.
    Unrouted(UnroutedReason),
}

/// Why a call could not be routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnroutedReason {
    /// Neither the dialled number nor the agent id is known (a branch hint alone names no
    /// company).
    #[error("the dialled number and agent belong to no known company")]
    UnknownNumber,
    /// The company is known but no rule leads to an active branch.
    #[error("no active branch of the company can take the call")]
    NoActiveBranch,
}

impl UnroutedReason {
    /// A stable spelling for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            UnroutedReason::UnknownNumber => "unknown_number",
            UnroutedReason::NoActiveBranch => "no_active_branch",
        }
    }
}

/// The company an inbound call is for: from the dialled number, else the agent id (never from
/// a branch hint). Lets the caller load the caller's history with that company before calling
/// [`resolve`].
pub fn company_of(lookup: &impl RoutingLookup, call: &InboundCall) -> Option<CompanyId> {
    match lookup.number(call.to_number) {
        Some(dest) => Some(dest.company_id),
        None => company_without_number(lookup, call),
    }
}

/// The company when the dialled number is unknown: the agent's. A hint alone names none: any
/// company may have a branch with that slug, and a caller or integrator can send any hint.
fn company_without_number(lookup: &impl RoutingLookup, call: &InboundCall) -> Option<CompanyId> {
    call.agent_id
        .and_then(|a| lookup.agent(a))
        .map(|dest| dest.company_id)
}

/// Routes an inbound call to an active branch (see the module documentation for the rules).
pub fn resolve(lookup: &impl RoutingLookup, call: &InboundCall) -> Routing {
    let by_number = lookup.number(call.to_number);
    let company = match &by_number {
        Some(dest) => dest.company_id,
        None => match company_without_number(lookup, call) {
            Some(company) => company,
            None => return Routing::Unrouted(UnroutedReason::UnknownNumber),
        },
    };
    for method in RouteMethod::ALL {
        let Some(named) = candidate(lookup, call, company, by_number.as_ref(), method) else {
            continue;
        };
        if let Some((branch_id, handed_over_from)) = settle(lookup, company, named) {
            return Routing::Routed(Route {
                company_id: company,
                branch_id,
                method,
                confidence: method.confidence(),
                handed_over_from,
            });
        }
    }
    Routing::Unrouted(UnroutedReason::NoActiveBranch)
}

/// The branch of `company` that `method` names for this call, if it names one.
fn candidate(
    lookup: &impl RoutingLookup,
    call: &InboundCall,
    company: CompanyId,
    by_number: Option<&Destination>,
    method: RouteMethod,
) -> Option<BranchFacts> {
    let id = match method {
        RouteMethod::Explicit => explicit_branch_id(lookup, company, call.explicit_branch?)?,
        RouteMethod::DialledNumber => by_number?.branch_id?,
        RouteMethod::AgentId => {
            let dest = lookup.agent(call.agent_id?)?;
            // An agent bound to another tenant's branch says nothing about this call's branch.
            if dest.company_id != company {
                return None;
            }
            dest.branch_id?
        }
        RouteMethod::CallerHistory => call.caller_history?,
        RouteMethod::AreaCode => return by_area_code(lookup, company, call.from_number?),
        RouteMethod::CompanyDefault => lookup.company_default_branch(company)?,
    };
    lookup
        .branch(id)
        .filter(|facts| facts.company_id == company)
}

/// A branch hint is a branch id or a slug of one of `company`'s branches; ids are tried first
/// because parsing one costs no lookup.
fn explicit_branch_id(
    lookup: &impl RoutingLookup,
    company: CompanyId,
    hint: &str,
) -> Option<BranchId> {
    let hint = hint.trim();
    if hint.is_empty() {
        return None;
    }
    match hint.parse::<BranchId>() {
        Ok(id) => Some(id),
        Err(_) => lookup.branch_by_slug(company, hint),
    }
}

/// The company's branch whose service-area prefix is the longest one the caller's number starts
/// with. Equal lengths prefer an active branch, then the smaller id, so the answer does not depend
/// on the order the index visits branches in.
fn by_area_code(
    lookup: &impl RoutingLookup,
    company: CompanyId,
    caller: &E164Number,
) -> Option<BranchFacts> {
    let mut best: Option<(usize, BranchFacts)> = None;
    lookup.for_each_branch_of(company, &mut |facts| {
        if facts.company_id != company {
            return;
        }
        let Some(len) = longest_matching_prefix(caller, &facts.service_area_prefixes) else {
            return;
        };
        let better = match &best {
            None => true,
            Some((best_len, current)) => {
                (len, facts.active, std::cmp::Reverse(facts.id))
                    > (*best_len, current.active, std::cmp::Reverse(current.id))
            }
        };
        if better {
            best = Some((len, facts.clone()));
        }
    });
    best.map(|(_, facts)| facts)
}

/// The length in digits of the longest prefix the number starts with. Prefixes are compared
/// without their `+` so `+4930` and `4930` both work; an empty prefix would match every caller
/// and is ignored.
fn longest_matching_prefix(number: &E164Number, prefixes: &[String]) -> Option<usize> {
    prefixes
        .iter()
        .map(|p| p.trim().trim_start_matches('+'))
        .filter(|p| !p.is_empty() && number.digits().starts_with(p))
        .map(str::len)
        .max()
}

/// The active branch that takes a call a rule named, and the inactive branch it was handed over
/// from. `None` when neither the fallback chain nor the company default is active.
fn settle(
    lookup: &impl RoutingLookup,
    company: CompanyId,
    named: BranchFacts,
) -> Option<(BranchId, Option<BranchId>)> {
    if named.active {
        return Some((named.id, None));
    }
    // A fixed-size list of visited branches: cycle detection without allocating.
    let mut seen = [named.id; MAX_FALLBACK_HOPS + 1];
    let mut seen_len = 1;
    let mut next = named.fallback_branch_id;
    while let Some(id) = next {
        if seen_len > MAX_FALLBACK_HOPS || seen[..seen_len].contains(&id) {
            break;
        }
        seen[seen_len] = id;
        seen_len += 1;
        let Some(facts) = lookup.branch(id).filter(|f| f.company_id == company) else {
            break;
        };
        if facts.active {
            return Some((facts.id, Some(named.id)));
        }
        next = facts.fallback_branch_id;
    }
    let default = lookup.company_default_branch(company)?;
    lookup
        .branch(default)
        .filter(|f| f.company_id == company && f.active)
        .map(|f| (f.id, Some(named.id)))
}

/// Where the language of a call came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LanguageSource {
    /// The customer's stored preference.
    CustomerPreference,
    /// The language Retell detected in the conversation.
    RetellDetected,
    /// The country calling code of the caller's number.
    CallerCountry,
    /// The branch's default language.
    BranchDefault,
}

/// The customer's stored preference, else the language Retell detected, else the caller's
/// country code, else the branch default.
pub fn choose_language(
    customer_preference: Option<Language>,
    detected: Option<Language>,
    caller: Option<&E164Number>,
    branch_default: Language,
) -> (Language, LanguageSource) {
    if let Some(language) = customer_preference {
        (language, LanguageSource::CustomerPreference)
    } else if let Some(language) = detected {
        (language, LanguageSource::RetellDetected)
    } else if let Some(language) = caller.and_then(language_of_country) {
        (language, LanguageSource::CallerCountry)
    } else {
        (branch_default, LanguageSource::BranchDefault)
    }
}

/// Country calling codes (digits without `+`) and the language callers from there most likely
/// speak. Calling codes form a prefix-free set (no code is the start of another), so
/// codes of different lengths (`20` Egypt, `212` Morocco) cannot shadow each other and the order
/// of the table does not matter; a test keeps it that way.
const COUNTRY_LANGUAGES: &[(&str, &str)] = &[
    // NANP: the US, Canada and the Caribbean share +1.
    ("1", "en"),
    // Russia and Kazakhstan share +7.
    ("7", "ru"),
    ("20", "ar"),  // Egypt
    ("41", "de"),  // Switzerland
    ("43", "de"),  // Austria
    ("44", "en"),  // United Kingdom
    ("49", "de"),  // Germany
    ("90", "tr"),  // Turkey
    ("212", "ar"), // Morocco
    ("213", "ar"), // Algeria
    ("216", "ar"), // Tunisia
    ("218", "ar"), // Libya
    ("222", "ar"), // Mauritania
    ("249", "ar"), // Sudan
    ("252", "ar"), // Somalia
    ("253", "ar"), // Djibouti
    ("269", "ar"), // Comoros
    ("961", "ar"), // Lebanon
    ("962", "ar"), // Jordan
    ("963", "ar"), // Syria
    ("964", "ar"), // Iraq
    ("965", "ar"), // Kuwait
    ("966", "ar"), // Saudi Arabia
    ("967", "ar"), // Yemen
    ("968", "ar"), // Oman
    ("970", "ar"), // Palestine
    ("971", "ar"), // United Arab Emirates
    ("973", "ar"), // Bahrain
    ("974", "ar"), // Qatar
];

/// The language of the caller's country: +49/+43/+41 de, +90 tr, +7 ru, +44/+1 en, the Arab
/// League's calling codes ar; `None` for every other country.
pub fn language_of_country(number: &E164Number) -> Option<Language> {
    let digits = number.digits();
    COUNTRY_LANGUAGES
        .iter()
        .find(|(code, _)| digits.starts_with(code))
        .and_then(|(_, language)| Language::parse(language).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::HashMap;

    fn num(raw: &str) -> E164Number {
        E164Number::parse(raw).expect("valid test number")
    }

    fn lang(code: &str) -> Language {
        Language::parse(code).expect("valid test language")
    }

    #[derive(Default)]
    struct Index {
        numbers: HashMap<E164Number, Destination>,
        agents: HashMap<String, Destination>,
        branches: HashMap<BranchId, BranchFacts>,
        defaults: HashMap<CompanyId, BranchId>,
        lookups: Cell<usize>,
    }

    impl Index {
        fn count(&self) {
            self.lookups.set(self.lookups.get() + 1);
        }

        fn add_branch(&mut self, company: CompanyId, slug: &str) -> BranchId {
            let id = BranchId::new();
            self.branches.insert(
                id,
                BranchFacts {
                    id,
                    company_id: company,
                    slug: slug.to_owned(),
                    active: true,
                    fallback_branch_id: None,
                    service_area_prefixes: Vec::new(),
                    languages: vec![Language::DE],
                },
            );
            id
        }

        fn facts(&mut self, id: BranchId) -> &mut BranchFacts {
            self.branches.get_mut(&id).expect("test branch exists")
        }

        fn bind_number(&mut self, raw: &str, company: CompanyId, branch: Option<BranchId>) {
            self.numbers.insert(
                num(raw),
                Destination {
                    company_id: company,
                    branch_id: branch,
                },
            );
        }

        fn bind_agent(&mut self, agent: &str, company: CompanyId, branch: Option<BranchId>) {
            self.agents.insert(
                agent.to_owned(),
                Destination {
                    company_id: company,
                    branch_id: branch,
                },
            );
        }
    }

    impl RoutingLookup for Index {
        fn number(&self, number: &E164Number) -> Option<Destination> {
            self.count();
            self.numbers.get(number).cloned()
        }
        fn agent(&self, agent_id: &str) -> Option<Destination> {
            self.count();
            self.agents.get(agent_id).cloned()
        }
        fn branch(&self, id: BranchId) -> Option<BranchFacts> {
            self.count();
            self.branches.get(&id).cloned()
        }
        fn branch_by_slug(&self, company: CompanyId, slug: &str) -> Option<BranchId> {
            self.count();
            self.branches
                .values()
                .find(|b| b.company_id == company && b.slug == slug)
                .map(|b| b.id)
        }
        fn company_default_branch(&self, company: CompanyId) -> Option<BranchId> {
            self.count();
            self.defaults.get(&company).copied()
        }
        fn for_each_branch_of(&self, company: CompanyId, visit: &mut dyn FnMut(&BranchFacts)) {
            self.count();
            self.branches
                .values()
                .filter(|b| b.company_id == company)
                .for_each(visit);
        }
    }

    /// Two companies. Acme has Mitte (bound to the main number), Nord, Süd and a company-wide
    /// number; Beta has one branch with its own number.
    struct World {
        index: Index,
        acme: CompanyId,
        beta: CompanyId,
        mitte: BranchId,
        nord: BranchId,
        sued: BranchId,
        beta_main: BranchId,
    }

    const ACME_MITTE_NO: &str = "+493011110000";
    const ACME_WIDE_NO: &str = "+498001110000";
    const BETA_NO: &str = "+494022220000";
    const CALLER: &str = "+4915112345678";

    fn world() -> World {
        let mut index = Index::default();
        let acme = CompanyId::new();
        let beta = CompanyId::new();
        let mitte = index.add_branch(acme, "acme-mitte");
        let nord = index.add_branch(acme, "acme-nord");
        let sued = index.add_branch(acme, "acme-sued");
        let beta_main = index.add_branch(beta, "beta-main");
        index.bind_number(ACME_MITTE_NO, acme, Some(mitte));
        index.bind_number(ACME_WIDE_NO, acme, None);
        index.bind_number(BETA_NO, beta, Some(beta_main));
        index.bind_agent("agent_acme_nord", acme, Some(nord));
        index.bind_agent("agent_acme_wide", acme, None);
        index.bind_agent("agent_beta", beta, Some(beta_main));
        index.defaults.insert(acme, sued);
        index.defaults.insert(beta, beta_main);
        World {
            index,
            acme,
            beta,
            mitte,
            nord,
            sued,
            beta_main,
        }
    }

    fn call(to: &E164Number) -> InboundCall<'_> {
        InboundCall {
            to_number: to,
            from_number: None,
            agent_id: None,
            explicit_branch: None,
            caller_history: None,
        }
    }

    fn routed(routing: Routing) -> Route {
        match routing {
            Routing::Routed(route) => route,
            Routing::Unrouted(reason) => panic!("expected a route, got {reason}"),
        }
    }

    #[test]
    fn confidences_and_spellings_of_every_rule() {
        let expected = [
            (RouteMethod::Explicit, 1.0, "explicit"),
            (RouteMethod::DialledNumber, 0.9, "dialled_number"),
            (RouteMethod::AgentId, 0.8, "agent_id"),
            (RouteMethod::CallerHistory, 0.7, "caller_history"),
            (RouteMethod::AreaCode, 0.6, "area_code"),
            (RouteMethod::CompanyDefault, 0.5, "company_default"),
        ];
        assert_eq!(RouteMethod::ALL.len(), expected.len());
        for (method, confidence, text) in expected {
            assert_eq!(method.confidence(), confidence, "{method:?}");
            assert_eq!(method.as_str(), text);
            assert_eq!(
                serde_json::to_value(method).ok(),
                Some(serde_json::Value::String(text.to_owned()))
            );
        }
    }

    #[test]
    fn explicit_branch_by_slug_or_id_wins_over_everything() {
        let w = world();
        let to = num(ACME_MITTE_NO);
        let from = num("+493099999999");
        let id_text = w.nord.to_string();
        for hint in ["acme-nord", " acme-nord ", id_text.as_str()] {
            let route = routed(resolve(
                &w.index,
                &InboundCall {
                    explicit_branch: Some(hint),
                    agent_id: Some("agent_acme_nord"),
                    caller_history: Some(w.sued),
                    from_number: Some(&from),
                    ..call(&to)
                },
            ));
            assert_eq!(route.branch_id, w.nord, "{hint}");
            assert_eq!(route.method, RouteMethod::Explicit);
            assert_eq!(route.confidence, 1.0);
            assert_eq!(route.handed_over_from, None);
        }
    }

    #[test]
    fn dialled_number_bound_to_a_branch_wins_over_agent_history_and_area() {
        let mut w = world();
        w.index.facts(w.sued).service_area_prefixes = vec!["+4930".into()];
        let to = num(ACME_MITTE_NO);
        let from = num("+493099999999");
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                agent_id: Some("agent_acme_nord"),
                caller_history: Some(w.sued),
                from_number: Some(&from),
                ..call(&to)
            },
        ));
        assert_eq!(
            route,
            Route {
                company_id: w.acme,
                branch_id: w.mitte,
                method: RouteMethod::DialledNumber,
                confidence: 0.9,
                handed_over_from: None,
            }
        );
    }

    #[test]
    fn the_hot_path_costs_two_lookups() {
        let w = world();
        let to = num(ACME_MITTE_NO);
        let from = num(CALLER);
        w.index.lookups.set(0);
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                agent_id: Some("agent_acme_nord"),
                from_number: Some(&from),
                ..call(&to)
            },
        ));
        assert_eq!(route.method, RouteMethod::DialledNumber);
        assert_eq!(w.index.lookups.get(), 2);
    }

    #[test]
    fn agent_id_decides_on_a_company_wide_number() {
        let w = world();
        let to = num(ACME_WIDE_NO);
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                agent_id: Some("agent_acme_nord"),
                caller_history: Some(w.mitte),
                ..call(&to)
            },
        ));
        assert_eq!(route.branch_id, w.nord);
        assert_eq!(route.method, RouteMethod::AgentId);
        assert_eq!(route.confidence, 0.8);
    }

    #[test]
    fn caller_history_decides_when_number_and_agent_name_no_branch() {
        let mut w = world();
        w.index.facts(w.nord).service_area_prefixes = vec!["+4915".into()];
        let to = num(ACME_WIDE_NO);
        let from = num(CALLER);
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                agent_id: Some("agent_acme_wide"),
                caller_history: Some(w.mitte),
                from_number: Some(&from),
                ..call(&to)
            },
        ));
        assert_eq!(route.branch_id, w.mitte);
        assert_eq!(route.method, RouteMethod::CallerHistory);
        assert_eq!(route.confidence, 0.7);
    }

    #[test]
    fn area_code_decides_before_the_default_and_the_longest_prefix_wins() {
        let mut w = world();
        w.index.facts(w.mitte).service_area_prefixes = vec!["+49".into(), "+4930".into()];
        w.index.facts(w.nord).service_area_prefixes = vec!["+49301".into()];
        w.index.facts(w.sued).service_area_prefixes = vec!["4930123".into()];
        let to = num(ACME_WIDE_NO);
        let cases = [
            ("+493012345678", w.sued),
            ("+493019999999", w.nord),
            ("+493029999999", w.mitte),
            ("+498912345678", w.mitte),
        ];
        for (caller, expected) in cases {
            let from = num(caller);
            let route = routed(resolve(
                &w.index,
                &InboundCall {
                    from_number: Some(&from),
                    ..call(&to)
                },
            ));
            assert_eq!(route.branch_id, expected, "{caller}");
            assert_eq!(route.method, RouteMethod::AreaCode);
            assert_eq!(route.confidence, 0.6);
        }
    }

    #[test]
    fn area_code_ties_prefer_an_active_branch_then_the_smaller_id() {
        let mut w = world();
        for b in [w.mitte, w.nord, w.sued] {
            w.index.facts(b).service_area_prefixes = vec!["+4930".into()];
        }
        w.index.facts(w.mitte).active = false;
        // Without a default or fallback, an inactive winner could not be handed over, so the
        // tie must go to an active branch.
        w.index.defaults.clear();
        let expected = w.nord.min(w.sued);
        let to = num(ACME_WIDE_NO);
        let from = num("+493012345678");
        for _ in 0..5 {
            let route = routed(resolve(
                &w.index,
                &InboundCall {
                    from_number: Some(&from),
                    ..call(&to)
                },
            ));
            assert_eq!(route.branch_id, expected);
            assert_eq!(route.handed_over_from, None);
        }
    }

    #[test]
    fn area_code_ignores_empty_prefixes_and_other_companies() {
        let mut w = world();
        w.index.facts(w.mitte).service_area_prefixes = vec!["".into(), "+".into()];
        w.index.facts(w.beta_main).service_area_prefixes = vec!["+4930".into()];
        let to = num(ACME_WIDE_NO);
        let from = num("+493012345678");
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                from_number: Some(&from),
                ..call(&to)
            },
        ));
        assert_eq!(route.branch_id, w.sued);
        assert_eq!(route.method, RouteMethod::CompanyDefault);
    }

    #[test]
    fn company_wide_number_falls_back_to_the_company_default() {
        let w = world();
        let to = num(ACME_WIDE_NO);
        let from = num("+33123456789");
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                from_number: Some(&from),
                ..call(&to)
            },
        ));
        assert_eq!(
            route,
            Route {
                company_id: w.acme,
                branch_id: w.sued,
                method: RouteMethod::CompanyDefault,
                confidence: 0.5,
                handed_over_from: None,
            }
        );
    }

    #[test]
    fn explicit_branch_of_another_company_is_ignored() {
        let w = world();
        let to = num(ACME_MITTE_NO);
        let beta_id = w.beta_main.to_string();
        for hint in ["beta-main", beta_id.as_str()] {
            let route = routed(resolve(
                &w.index,
                &InboundCall {
                    explicit_branch: Some(hint),
                    ..call(&to)
                },
            ));
            assert_eq!(route.company_id, w.acme);
            assert_eq!(route.branch_id, w.mitte);
            assert_eq!(route.method, RouteMethod::DialledNumber);
        }
    }

    #[test]
    fn other_tenants_agents_and_history_do_not_leak_in() {
        let w = world();
        let to = num(ACME_WIDE_NO);
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                agent_id: Some("agent_beta"),
                caller_history: Some(w.beta_main),
                ..call(&to)
            },
        ));
        assert_eq!(route.company_id, w.acme);
        assert_eq!(route.branch_id, w.sued);
        assert_eq!(route.method, RouteMethod::CompanyDefault);
    }

    #[test]
    fn unknown_number_is_routed_by_agent_else_unrouted_whatever_the_hint() {
        let w = world();
        let to = num("+4969000000000");
        assert_eq!(
            resolve(&w.index, &call(&to)),
            Routing::Unrouted(UnroutedReason::UnknownNumber)
        );
        assert_eq!(company_of(&w.index, &call(&to)), None);
        let unknown_hints = InboundCall {
            agent_id: Some("agent_nobody"),
            explicit_branch: Some("no-such-branch"),
            ..call(&to)
        };
        assert_eq!(
            resolve(&w.index, &unknown_hints),
            Routing::Unrouted(UnroutedReason::UnknownNumber)
        );

        let by_agent = InboundCall {
            agent_id: Some("agent_acme_nord"),
            ..call(&to)
        };
        assert_eq!(company_of(&w.index, &by_agent), Some(w.acme));
        let route = routed(resolve(&w.index, &by_agent));
        assert_eq!(
            (route.branch_id, route.method),
            (w.nord, RouteMethod::AgentId)
        );

        // A hint alone (slug or id) names no company: anyone can send one.
        let beta_id = w.beta_main.to_string();
        for hint in ["beta-main", beta_id.as_str()] {
            let by_hint = InboundCall {
                explicit_branch: Some(hint),
                ..call(&to)
            };
            assert_eq!(company_of(&w.index, &by_hint), None, "{hint}");
            assert_eq!(
                resolve(&w.index, &by_hint),
                Routing::Unrouted(UnroutedReason::UnknownNumber),
                "{hint}"
            );
        }
        // With the agent's company known, a hint picks a branch of that company only.
        let agent_and_hint = InboundCall {
            agent_id: Some("agent_acme_wide"),
            explicit_branch: Some("acme-nord"),
            ..call(&to)
        };
        let route = routed(resolve(&w.index, &agent_and_hint));
        assert_eq!(
            (route.company_id, route.branch_id, route.method),
            (w.acme, w.nord, RouteMethod::Explicit)
        );
    }

    #[test]
    fn a_slug_another_company_also_uses_names_the_branch_of_the_calls_company() {
        let mut w = world();
        // Beta opens a branch with Acme's slug.
        let beta_copy = w.index.add_branch(w.beta, "acme-nord");
        let to = num(ACME_MITTE_NO);
        let acme_call = InboundCall {
            explicit_branch: Some("acme-nord"),
            ..call(&to)
        };
        let route = routed(resolve(&w.index, &acme_call));
        assert_eq!(
            (route.company_id, route.branch_id, route.method),
            (w.acme, w.nord, RouteMethod::Explicit)
        );
        let to = num(BETA_NO);
        let beta_call = InboundCall {
            explicit_branch: Some("acme-nord"),
            ..call(&to)
        };
        let route = routed(resolve(&w.index, &beta_call));
        assert_eq!((route.company_id, route.branch_id), (w.beta, beta_copy));
        let to = num("+4969000000000");
        assert_eq!(
            resolve(
                &w.index,
                &InboundCall {
                    explicit_branch: Some("acme-nord"),
                    ..call(&to)
                }
            ),
            Routing::Unrouted(UnroutedReason::UnknownNumber)
        );
    }

    #[test]
    fn company_comes_from_the_number_before_agent_and_hint() {
        let w = world();
        let to = num(BETA_NO);
        let c = InboundCall {
            agent_id: Some("agent_acme_nord"),
            explicit_branch: Some("acme-mitte"),
            ..call(&to)
        };
        assert_eq!(company_of(&w.index, &c), Some(w.beta));
        let route = routed(resolve(&w.index, &c));
        assert_eq!(route.branch_id, w.beta_main);
        assert_eq!(route.method, RouteMethod::DialledNumber);
    }

    #[test]
    fn inactive_branch_hands_over_along_the_fallback_chain() {
        let mut w = world();
        w.index.facts(w.mitte).active = false;
        w.index.facts(w.mitte).fallback_branch_id = Some(w.nord);
        // An inactive fallback passes the call on to its own fallback.
        w.index.facts(w.nord).active = false;
        w.index.facts(w.nord).fallback_branch_id = Some(w.sued);
        w.index.defaults.clear();
        let to = num(ACME_MITTE_NO);
        let route = routed(resolve(&w.index, &call(&to)));
        assert_eq!(
            route,
            Route {
                company_id: w.acme,
                branch_id: w.sued,
                method: RouteMethod::DialledNumber,
                confidence: 0.9,
                handed_over_from: Some(w.mitte),
            }
        );
    }

    #[test]
    fn fallback_cycle_ends_at_the_company_default() {
        let mut w = world();
        w.index.facts(w.mitte).active = false;
        w.index.facts(w.mitte).fallback_branch_id = Some(w.nord);
        w.index.facts(w.nord).active = false;
        w.index.facts(w.nord).fallback_branch_id = Some(w.mitte);
        let to = num(ACME_MITTE_NO);
        let route = routed(resolve(&w.index, &call(&to)));
        assert_eq!(route.branch_id, w.sued);
        assert_eq!(route.method, RouteMethod::DialledNumber);
        assert_eq!(route.handed_over_from, Some(w.mitte));
    }

    #[test]
    fn a_self_referencing_fallback_does_not_loop() {
        let mut w = world();
        w.index.facts(w.mitte).active = false;
        w.index.facts(w.mitte).fallback_branch_id = Some(w.mitte);
        let to = num(ACME_MITTE_NO);
        let route = routed(resolve(&w.index, &call(&to)));
        assert_eq!(route.branch_id, w.sued);
        assert_eq!(route.handed_over_from, Some(w.mitte));
    }

    #[test]
    fn fallback_into_another_company_is_not_followed() {
        let mut w = world();
        w.index.facts(w.mitte).active = false;
        w.index.facts(w.mitte).fallback_branch_id = Some(w.beta_main);
        let to = num(ACME_MITTE_NO);
        let route = routed(resolve(&w.index, &call(&to)));
        assert_eq!(route.company_id, w.acme);
        assert_eq!(route.branch_id, w.sued);
        assert_eq!(route.handed_over_from, Some(w.mitte));
    }

    #[test]
    fn when_the_handover_fails_the_next_rule_is_tried() {
        let mut w = world();
        w.index.facts(w.mitte).active = false;
        w.index.facts(w.sued).active = false;
        let to = num(ACME_MITTE_NO);
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                agent_id: Some("agent_acme_nord"),
                ..call(&to)
            },
        ));
        assert_eq!(route.branch_id, w.nord);
        assert_eq!(route.method, RouteMethod::AgentId);
        assert_eq!(route.handed_over_from, None);
    }

    #[test]
    fn no_active_branch_anywhere_is_unrouted() {
        let mut w = world();
        for b in [w.mitte, w.nord, w.sued] {
            w.index.facts(b).active = false;
        }
        let to = num(ACME_MITTE_NO);
        assert_eq!(
            resolve(&w.index, &call(&to)),
            Routing::Unrouted(UnroutedReason::NoActiveBranch)
        );
        w.index.defaults.clear();
        let wide = num(ACME_WIDE_NO);
        assert_eq!(
            resolve(&w.index, &call(&wide)),
            Routing::Unrouted(UnroutedReason::NoActiveBranch)
        );
    }

    #[test]
    fn dangling_ids_in_the_index_are_skipped() {
        let mut w = world();
        let ghost = BranchId::new();
        w.index.bind_number("+493055550000", w.acme, Some(ghost));
        let to = num("+493055550000");
        let route = routed(resolve(
            &w.index,
            &InboundCall {
                caller_history: Some(BranchId::new()),
                ..call(&to)
            },
        ));
        assert_eq!(route.branch_id, w.sued);
        assert_eq!(route.method, RouteMethod::CompanyDefault);
    }

    #[test]
    fn branch_facts_copy_what_routing_needs() {
        use crate::domain::schedule::WeeklyHours;
        let branch = Branch {
            id: BranchId::new(),
            company_id: CompanyId::new(),
            name: "Praxis Mitte".into(),
            slug: "mitte".into(),
            address: "Unter den Linden 1".into(),
            time_zone: chrono_tz::Europe::Berlin,
            languages: vec![lang("tr"), Language::DE],
            active: false,
            fallback_branch_id: Some(BranchId::new()),
            service_area_prefixes: vec!["+4930".into()],
            opening_hours: WeeklyHours::default(),
            date_overrides: Vec::new(),
            agent_by_language: Default::default(),
        };
        let facts = BranchFacts::from(&branch);
        assert_eq!(facts.id, branch.id);
        assert_eq!(facts.company_id, branch.company_id);
        assert_eq!(facts.slug, "mitte");
        assert!(!facts.active);
        assert_eq!(facts.fallback_branch_id, branch.fallback_branch_id);
        assert_eq!(facts.service_area_prefixes, ["+4930"]);
        assert_eq!(facts.default_language(), branch.default_language());
        assert_eq!(
            BranchFacts {
                languages: Vec::new(),
                ..facts
            }
            .default_language(),
            Language::DE
        );
    }

    #[test]
    fn language_rules_in_order_of_precedence() {
        let tr = lang("tr");
        let ar = lang("ar");
        let ru = lang("ru");
        let turkish_caller = num("+905321234567");
        let cases = [
            (
                Some(ar),
                Some(ru),
                Some(&turkish_caller),
                (ar, LanguageSource::CustomerPreference),
            ),
            (
                None,
                Some(ru),
                Some(&turkish_caller),
                (ru, LanguageSource::RetellDetected),
            ),
            (
                None,
                None,
                Some(&turkish_caller),
                (tr, LanguageSource::CallerCountry),
            ),
            (
                None,
                None,
                None,
                (Language::DE, LanguageSource::BranchDefault),
            ),
        ];
        for (preference, detected, caller, expected) in cases {
            assert_eq!(
                choose_language(preference, detected, caller, Language::DE),
                expected
            );
        }
        let french_caller = num("+33123456789");
        assert_eq!(
            choose_language(None, None, Some(&french_caller), Language::EN),
            (Language::EN, LanguageSource::BranchDefault)
        );
    }

    #[test]
    fn country_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("+4930123456", Some("de")),
            ("+43123456789", Some("de")),
            ("+41441234567", Some("de")),
            ("+905321234567", Some("tr")),
            ("+74951234567", Some("ru")),
            ("+77011234567", Some("ru")),
            ("+442071234567", Some("en")),
            ("+12125551234", Some("en")),
            ("+14165551234", Some("en")),
            ("+18765551234", Some("en")),
            ("+213551234567", Some("ar")),
            ("+97312345678", Some("ar")),
            ("+2697712345", Some("ar")),
            ("+25377123456", Some("ar")),
            ("+201001234567", Some("ar")),
            ("+9647712345678", Some("ar")),
            ("+962791234567", Some("ar")),
            ("+96550123456", Some("ar")),
            ("+9613123456", Some("ar")),
            ("+218911234567", Some("ar")),
            ("+22222123456", Some("ar")),
            ("+212612345678", Some("ar")),
            ("+96891234567", Some("ar")),
            ("+970591234567", Some("ar")),
            ("+97455123456", Some("ar")),
            ("+966501234567", Some("ar")),
            ("+252612345678", Some("ar")),
            ("+249912345678", Some("ar")),
            ("+963931234567", Some("ar")),
            ("+21620123456", Some("ar")),
            ("+971501234567", Some("ar")),
            ("+967712345678", Some("ar")),
            // Neighbours of the listed codes that are other countries.
            ("+211912345678", None),  // South Sudan
            ("+2341234567890", None), // Nigeria
            ("+2712345678", None),    // South Africa
            ("+33123456789", None),   // France
            ("+40212345678", None),   // Romania
            ("+421212345678", None),  // Slovakia
            ("+4212345678", None),    // Slovakia again, shorter
            ("+972501234567", None),  // Israel
            ("+98912345678", None),   // Iran
            ("+9601234567", None),    // Maldives
            ("+96912345678", None),   // unassigned
            ("+81312345678", None),   // Japan
        ];
        for (number, expected) in cases {
            assert_eq!(
                language_of_country(&num(number)),
                expected.map(lang),
                "{number}"
            );
        }
    }

    #[test]
    fn country_codes_are_prefix_free() {
        for (a, _) in COUNTRY_LANGUAGES {
            for (b, _) in COUNTRY_LANGUAGES {
                assert!(a == b || !b.starts_with(a), "{a} shadows {b}");
            }
        }
    }

    #[test]
    fn unrouted_reasons_read_well() {
        assert_eq!(UnroutedReason::UnknownNumber.as_str(), "unknown_number");
        assert_eq!(UnroutedReason::NoActiveBranch.as_str(), "no_active_branch");
        assert!(UnroutedReason::NoActiveBranch
            .to_string()
            .contains("no active branch"));
    }
}
