//! Operators, roles and the one permission table: who may do what. An
//! unknown operator is a viewer. The store checks [`Role::allows`] inside the
//! transaction of every change (`store::authz`); the dashboard builds its
//! active keymap from the same table, so a key it shows is a key the store
//! accepts.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Agent,
    Finance,
    Admin,
}

/// What an operator can ask to do; every change checks exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// See everything (every role, the wall monitor included).
    Read,
    /// Claim, approve, hold for review, decline and undo fraud decisions; rescore.
    DecideFraud,
    /// Add and remove blocklist entries.
    EditBlocklist,
    /// Acknowledge, silence and resolve alerts; declare and work incidents.
    AcknowledgeAlerts,
    /// Take, assign, gather evidence for, submit and accept disputes.
    HandleDisputes,
    /// Refund money to a buyer (agents only up to `[ops] agent_refund_limit_minor`).
    IssueRefunds,
    /// Tick checklist items and open returns.
    WorkChecklists,
    /// Generate payout batches, adjust, hold and release lines, verify bank details.
    PreparePayouts,
    /// Approve a payout batch (never the operator who generated or last changed it).
    ApprovePayouts,
    /// Send an approved batch through Wise and retry failed lines.
    ProcessPayouts,
    /// Put dead webhook events back in the queue; run maintenance; ask providers to sync.
    OperateWorker,
    /// Add, change and remove operators (and their SSH keys).
    ManageOperators,
}

use Permission as P;
use Role::{Admin, Agent, Finance, Viewer};

/// The one table: each permission, what it covers, and the roles that hold it.
/// DESIGN.md: agents decide fraud and disputes and refund up to a limit;
/// finance approves and processes payouts; admins manage operators.
pub const PERMISSIONS: &[(Permission, &str, &[Role])] = &[
    (P::Read, "see everything", &[Viewer, Agent, Finance, Admin]),
    (P::DecideFraud, "decide fraud orders", &[Agent, Admin]),
    (P::EditBlocklist, "change the blocklist", &[Agent, Admin]),
    (
        P::AcknowledgeAlerts,
        "work alerts and incidents",
        &[Agent, Finance, Admin],
    ),
    (P::HandleDisputes, "work disputes", &[Agent, Admin]),
    (P::IssueRefunds, "issue refunds", &[Agent, Finance, Admin]),
    (
        P::WorkChecklists,
        "tick checklists and open returns",
        &[Agent, Finance, Admin],
    ),
    (P::PreparePayouts, "prepare payouts", &[Finance, Admin]),
    (P::ApprovePayouts, "approve payouts", &[Finance, Admin]),
    (P::ProcessPayouts, "process payouts", &[Finance, Admin]),
    (P::OperateWorker, "operate the worker", &[Admin]),
    (P::ManageOperators, "manage operators", &[Admin]),
];

impl Permission {
    /// What the permission covers, for refusals: "decide fraud orders".
    pub fn what(self) -> &'static str {
        PERMISSIONS
            .iter()
            .find(|(p, _, _)| *p == self)
            .map_or("do this", |(_, what, _)| what)
    }

    /// The roles that hold it, lowest first.
    pub fn roles(self) -> &'static [Role] {
        PERMISSIONS
            .iter()
            .find(|(p, _, _)| *p == self)
            .map_or(&[], |(_, _, roles)| roles)
    }
}

impl Role {
    pub const ALL: [Role; 4] = [Viewer, Agent, Finance, Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Viewer => "viewer",
            Agent => "agent",
            Finance => "finance",
            Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn allows(&self, permission: Permission) -> bool {
        permission.roles().contains(self)
    }

    /// The largest refund this role may issue, in minor units; `None` is no limit.
    /// Only agents have a limit (`[ops] agent_refund_limit_minor`).
    pub fn refund_limit(&self, agent_limit_minor: i64) -> Option<i64> {
        match self {
            Agent => Some(agent_limit_minor),
            _ => None,
        }
    }
}

/// Who is acting, as the store and the audit log see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The operator whose role applies and whose name goes on claims and decisions.
    pub name: String,
    /// The admin's own account when an admin acts as `name` (`--operator`).
    pub admin: Option<String>,
    /// A read-only session (`--readonly`, `--wall`): every change is refused.
    pub readonly: bool,
}

impl Actor {
    /// An operator acting as themselves.
    pub fn new(name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            admin: None,
            readonly: false,
        }
    }

    /// The same operator, unable to change anything.
    pub fn read_only(mut self) -> Actor {
        self.readonly = true;
        self
    }

    /// `admin` acting as `name`; the store checks that `admin` is an admin.
    pub fn acting_as(admin: impl Into<String>, name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            admin: Some(admin.into()),
            readonly: false,
        }
    }

    /// The operator as the audit log names them: "maria", or "root as maria".
    pub fn audit_name(&self) -> String {
        match &self.admin {
            Some(admin) if *admin != self.name => format!("{admin} as {}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// Why a change is refused, phrased for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("read-only session: nothing can be changed from here")]
    ReadOnly,
    #[error("{operator} is {role_article} {role}; to {what} you need to be {needs}", role_article = article(role.as_str()), role = role.as_str(), what = permission.what(), needs = needs(*permission))]
    Role {
        operator: String,
        role: Role,
        permission: Permission,
    },
    #[error("{admin} is not an admin, so cannot act as {name}")]
    NotAdmin { admin: String, name: String },
    #[error(
        "a refund of {amount} is over the agent limit of {limit}: finance or an admin must issue it"
    )]
    OverRefundLimit { amount: String, limit: String },
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// "an agent or an admin".
fn needs(permission: Permission) -> String {
    let names: Vec<String> = permission
        .roles()
        .iter()
        .map(|r| format!("{} {}", article(r.as_str()), r.as_str()))
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "someone else".into(),
    }
}

/// The check itself, with no I/O: the store calls it with the role it read in
/// the transaction, the dashboard with the role it was given.
pub fn check(actor: &Actor, role: Role, permission: Permission) -> Result<(), Refusal> {
    if actor.readonly && permission != P::Read {
        return Err(Refusal::ReadOnly);
    }
    if role.allows(permission) {
        Ok(())
    } else {
        Err(Refusal::Role {
            operator: actor.name.clone(),
            role,
            permission,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_the_design_says() {
        assert!(Viewer.allows(P::Read));
        assert!(!Viewer.allows(P::DecideFraud));
        assert!(Agent.allows(P::IssueRefunds));
        assert!(!Agent.allows(P::ApprovePayouts));
        assert!(Finance.allows(P::ProcessPayouts));
        assert!(!Finance.allows(P::DecideFraud));
        assert!(Admin.allows(P::ManageOperators));
        assert_eq!(Role::parse("Finance"), Some(Finance));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn every_permission_is_in_the_table_once_and_admins_hold_all() {
        for (p, _, roles) in PERMISSIONS {
            assert_eq!(PERMISSIONS.iter().filter(|(q, _, _)| q == p).count(), 1);
            assert!(roles.contains(&Admin), "{p:?}");
        }
        // Viewers hold nothing but Read.
        for (p, _, roles) in PERMISSIONS {
            assert_eq!(roles.contains(&Viewer), *p == P::Read, "{p:?}");
        }
    }

    #[test]
    fn refusals_say_who_what_and_who_could() {
        let viewer = Actor::new("sam");
        let e = check(&viewer, Viewer, P::DecideFraud).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sam is a viewer; to decide fraud orders you need to be an agent or an admin"
        );
        let ro = Actor::new("root").read_only();
        assert_eq!(check(&ro, Admin, P::EditBlocklist), Err(Refusal::ReadOnly));
        assert_eq!(check(&ro, Admin, P::Read), Ok(()));
        assert_eq!(check(&Actor::new("a"), Agent, P::DecideFraud), Ok(()));
    }

    #[test]
    fn only_agents_have_a_refund_limit() {
        assert_eq!(Agent.refund_limit(50_000), Some(50_000));
        assert_eq!(Finance.refund_limit(50_000), None);
        assert_eq!(Admin.refund_limit(50_000), None);
    }

    #[test]
    fn audit_names_say_who_acted_as_whom() {
        assert_eq!(Actor::new("maria").audit_name(), "maria");
        assert_eq!(
            Actor::acting_as("root", "maria").audit_name(),
            "root as maria"
        );
    }
}
