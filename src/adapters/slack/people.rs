//! The Slack workspace's people by email (`users.lookupByEmail`, scope `users:read.email`):
//! how a portal sign-in through the company's identity provider finds the person's Slack
//! identity. Translation only; `service::oidc` decides what a match means.

use super::Client;
use crate::domain::{Platform, UserRef};
use crate::service::oidc::PeopleByEmail;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;

pub struct SlackPeople {
    client: Arc<Client>,
    token: SlackApiToken,
    timeout: Duration,
}

impl SlackPeople {
    pub fn new(client: Arc<Client>, token: SlackApiToken, timeout: Duration) -> Self {
        Self { client, token, timeout }
    }
}

#[async_trait::async_trait]
impl PeopleByEmail for SlackPeople {
    async fn by_email(&self, email: &str) -> Result<Option<UserRef>, String> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.to_string()));
        match super::calls::bounded(self.timeout, session.users_lookup_by_email(&req)).await {
            Ok(res) if res.user.deleted == Some(true) || res.user.flags.is_bot == Some(true) => Ok(None),
            Ok(res) => Ok(Some(UserRef { platform: Platform::Slack, id: res.user.id.to_string() })),
            Err(super::calls::CallError::Slack(slack_morphism::errors::SlackClientError::ApiError(a)))
                if a.code == "users_not_found" =>
            {
                Ok(None)
            }
            Err(e) => Err(format!("users.lookupByEmail: {}", e.kind())),
        }
    }
}
