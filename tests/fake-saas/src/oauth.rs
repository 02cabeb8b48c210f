//! OAuth 2.0 as the fakes' token endpoints serve it: the refresh-token grant (form-encoded), a new
//! access token that lives a set time, and, where the API rotates them (Linear, HubSpot), a new refresh
//! token (the one used stops working); Google keeps the refresh token. Each fake says what went wrong
//! in its API's own words.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// OAuth settings: the client, and the first tokens issued to it.
#[derive(Debug, Clone)]
pub struct OAuth {
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: String,
    /// The access token valid at start.
    pub access_token: String,
    /// The refresh token valid at start.
    pub refresh_token: String,
    /// How long the access token valid at start lives.
    pub initial_token_ttl: Duration,
    /// How long an access token issued by a refresh lives.
    pub token_ttl: Duration,
    /// Whether a refresh issues a new refresh token (the one used stops working).
    pub rotates: bool,
}

impl OAuth {
    /// A client `fake-client`/`fake-secret` with tokens named `<prefix>_oauth_initial` and
    /// `<prefix>_refresh_initial` that live `ttl`.
    pub fn named(prefix: &str, ttl: Duration) -> Self {
        OAuth {
            client_id: "fake-client".into(),
            client_secret: "fake-secret".into(),
            access_token: format!("{prefix}_oauth_initial"),
            refresh_token: format!("{prefix}_refresh_initial"),
            initial_token_ttl: ttl,
            token_ttl: ttl,
            rotates: true,
        }
    }
}

/// The refresh-token grant's form.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    /// Must be `refresh_token`.
    pub grant_type: String,
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// The client id.
    pub client_id: Option<String>,
    /// The client secret.
    pub client_secret: Option<String>,
}

/// Why a refresh was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not the refresh-token grant.
    UnsupportedGrant,
    /// Wrong client id or secret.
    InvalidClient,
    /// A refresh token that is unknown or was already used.
    InvalidGrant,
}

/// What is wrong with an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// It was valid and has expired, this long ago.
    Expired(Duration),
    /// It was never issued.
    Unknown,
}

/// A new access token, and the refresh token to use next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The access token.
    pub access: String,
    /// The refresh token to use next: a new one where refresh tokens rotate, else the one used.
    pub refresh: String,
    /// How long the access token lives.
    pub expires_in: Duration,
}

/// The tokens issued so far.
#[derive(Debug)]
pub struct Tokens {
    oauth: OAuth,
    /// Names new tokens (`lin` → `lin_oauth_000001`).
    prefix: String,
    access: HashMap<String, Instant>,
    refresh: String,
    issued: u64,
}

impl Tokens {
    /// The tokens of `oauth` at start, new ones named after `prefix`.
    pub fn new(oauth: OAuth, prefix: &str) -> Self {
        let access = HashMap::from([(oauth.access_token.clone(), Instant::now() + oauth.initial_token_ttl)]);
        let refresh = oauth.refresh_token.clone();
        Tokens { oauth, prefix: prefix.to_string(), access, refresh, issued: 0 }
    }

    /// Whether `token` is a live access token.
    pub fn check(&self, token: &str) -> Result<(), Invalid> {
        match self.access.get(token) {
            Some(expires) => match Instant::now().checked_duration_since(*expires) {
                Some(ago) => Err(Invalid::Expired(ago)),
                None => Ok(()),
            },
            None => Err(Invalid::Unknown),
        }
    }

    /// Answers a token request: new tokens, the used refresh token retired.
    pub fn refresh(&mut self, form: &TokenForm) -> Result<Issued, Refused> {
        if form.grant_type != "refresh_token" {
            return Err(Refused::UnsupportedGrant);
        }
        if form.client_id.as_deref() != Some(&self.oauth.client_id)
            || form.client_secret.as_deref() != Some(&self.oauth.client_secret)
        {
            return Err(Refused::InvalidClient);
        }
        if form.refresh_token.as_deref() != Some(self.refresh.as_str()) {
            return Err(Refused::InvalidGrant);
        }
        self.issued += 1;
        let access = format!("{}_oauth_{:06}", self.prefix, self.issued);
        if self.oauth.rotates {
            self.refresh = format!("{}_refresh_{:06}", self.prefix, self.issued);
        }
        self.access.insert(access.clone(), Instant::now() + self.oauth.token_ttl);
        Ok(Issued { access, refresh: self.refresh.clone(), expires_in: self.oauth.token_ttl })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(refresh: &str) -> TokenForm {
        TokenForm {
            grant_type: "refresh_token".into(),
            refresh_token: Some(refresh.into()),
            client_id: Some("fake-client".into()),
            client_secret: Some("fake-secret".into()),
        }
    }

    #[test]
    fn a_refresh_token_works_once_and_its_successor_next() {
        let mut tokens = Tokens::new(OAuth::named("t", Duration::from_secs(60)), "t");
        assert_eq!(tokens.check("t_oauth_initial"), Ok(()));
        let issued = tokens.refresh(&form("t_refresh_initial")).unwrap();
        assert_eq!(tokens.check(&issued.access), Ok(()));
        assert_eq!(tokens.refresh(&form("t_refresh_initial")), Err(Refused::InvalidGrant), "rotated");
        assert!(tokens.refresh(&form(&issued.refresh)).is_ok());
        assert_eq!(tokens.check("nope"), Err(Invalid::Unknown));
    }

    #[test]
    fn a_refresh_token_that_does_not_rotate_keeps_working() {
        let oauth = OAuth { rotates: false, ..OAuth::named("g", Duration::from_secs(60)) };
        let mut tokens = Tokens::new(oauth, "g");
        let first = tokens.refresh(&form("g_refresh_initial")).unwrap();
        assert_eq!(first.refresh, "g_refresh_initial");
        let second = tokens.refresh(&form("g_refresh_initial")).unwrap();
        assert_ne!(first.access, second.access);
        assert_eq!(tokens.check(&first.access), Ok(()), "earlier access tokens live until they expire");
    }

    #[test]
    fn an_expired_token_says_how_long_ago() {
        let tokens = Tokens::new(OAuth::named("t", Duration::ZERO), "t");
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            matches!(tokens.check("t_oauth_initial"), Err(Invalid::Expired(ago)) if ago >= Duration::from_millis(5))
        );
    }
}
