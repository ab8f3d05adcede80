//! Operators and roles: who may do what. An unknown operator is a viewer.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Agent,
    Finance,
    Admin,
}

/// What an operator can ask to do; each action checks one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    AcknowledgeAlerts,
    DecideFraud,
    HandleDisputes,
    IssueRefunds,
    ApprovePayouts,
    ProcessPayouts,
    ManageOperators,
}

impl Role {
    pub const ALL: [Role; 4] = [Self::Viewer, Self::Agent, Self::Finance, Self::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Agent => "agent",
            Self::Finance => "finance",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn allows(&self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Self::Viewer => permission == Read,
            Self::Agent => matches!(
                permission,
                Read | AcknowledgeAlerts | DecideFraud | HandleDisputes | IssueRefunds
            ),
            Self::Finance => matches!(
                permission,
                Read | AcknowledgeAlerts | ApprovePayouts | ProcessPayouts
            ),
            Self::Admin => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_the_design_says() {
        assert!(Role::Viewer.allows(Permission::Read));
        assert!(!Role::Viewer.allows(Permission::DecideFraud));
        assert!(Role::Agent.allows(Permission::IssueRefunds));
        assert!(!Role::Agent.allows(Permission::ApprovePayouts));
        assert!(Role::Finance.allows(Permission::ProcessPayouts));
        assert!(!Role::Finance.allows(Permission::DecideFraud));
        assert!(Role::Admin.allows(Permission::ManageOperators));
        assert_eq!(Role::parse("Finance"), Some(Role::Finance));
        assert_eq!(Role::parse("root"), None);
    }
}
