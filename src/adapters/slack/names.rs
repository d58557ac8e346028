//! Display names from `users.info`, cached for an hour so a busy thread costs one lookup per
//! person. A failed lookup is not an error: the message goes on without a name.

use super::Client;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(3600);
/// Entries kept before the cache is cleared (a guard, not a tuning knob).
const MAX_ENTRIES: usize = 50_000;

pub struct Names {
    client: Arc<Client>,
    token: SlackApiToken,
    cache: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl Names {
    pub fn new(client: Arc<Client>, token: SlackApiToken) -> Self {
        Self { client, token, cache: Mutex::new(HashMap::new()) }
    }

    /// The person's display name (or real name, or handle), if Slack gives one.
    pub async fn get(&self, user: &str) -> Option<String> {
        if let Some((name, at)) = self.cache.lock().ok().and_then(|c| c.get(user).cloned())
            && at.elapsed() < TTL
        {
            return name;
        }
        let session = self.client.open_session(&self.token);
        let req = SlackApiUsersInfoRequest::new(SlackUserId::new(user.to_string()));
        let name = match session.users_info(&req).await {
            Ok(res) => best_name(&res.user),
            Err(e) => {
                tracing::warn!(user, error = %first_line(&e.to_string()), "users.info failed");
                return None;
            }
        };
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= MAX_ENTRIES {
                c.clear();
            }
            c.insert(user.to_string(), (name.clone(), Instant::now()));
        }
        name
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

fn best_name(u: &SlackUser) -> Option<String> {
    let profile = u.profile.as_ref();
    [
        profile.and_then(|p| p.display_name.clone()),
        profile.and_then(|p| p.real_name.clone()),
        u.real_name.clone(),
        u.name.clone(),
    ]
    .into_iter()
    .flatten()
    .map(|n| n.trim().to_string())
    .find(|n| !n.is_empty())
}
