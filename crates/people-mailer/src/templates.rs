//! The text of every email: exact subjects and links, a plain-text and an HTML part, every value
//! HTML-escaped in the HTML part.

use people_domain::mail::{Email, EmailTemplates, MailContext, Rendered};

/// people's email templates.
#[derive(Debug, Default, Clone, Copy)]
pub struct Templates;

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Paragraphs of an email: plain text, with at most one call-to-action link.
struct Body {
    paragraphs: Vec<String>,
    action: Option<(String, String)>,
}

impl Body {
    fn text(&self) -> String {
        let mut out = self.paragraphs.join("\n\n");
        if let Some((label, url)) = &self.action {
            out.push_str(&format!("\n\n{label}: {url}"));
        }
        out.push('\n');
        out
    }

    fn html(&self, title: &str) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family: sans-serif; color: #2e353b;\">\n",
            escape(title)
        );
        for p in &self.paragraphs {
            out.push_str(&format!("<p>{}</p>\n", escape(p)));
        }
        if let Some((label, url)) = &self.action {
            out.push_str(&format!(
                "<p><a href=\"{}\" style=\"background: #509ee3; color: #fff; padding: 8px 16px; border-radius: 4px; text-decoration: none;\">{}</a></p>\n",
                escape(url),
                escape(label)
            ));
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn sso_name(source: &str) -> &str {
    match source {
        "google" => "Google",
        "ldap" => "LDAP",
        "saml" => "SAML",
        "jwt" => "JWT",
        other => other,
    }
}

impl EmailTemplates for Templates {
    fn render(&self, email: &Email, ctx: &MailContext) -> Rendered {
        let app = &ctx.app_name;
        let site = &ctx.site_name;
        let reset_subject = format!("[{app}] Password Reset Request");
        let (subject, body) = match email {
            Email::Invite {
                first_name,
                inviter,
                join_url,
                from_setup,
                ..
            } => {
                let greeting = match first_name {
                    Some(n) => format!("Welcome to {app}, {n}!"),
                    None => format!("Welcome to {app}!"),
                };
                let who = inviter.clone().unwrap_or_else(|| "An administrator".to_string());
                let why = if *from_setup {
                    format!("{who} could use your help setting up {app}.")
                } else {
                    format!("{who} has invited you to join {site}'s {app}.")
                };
                (
                    format!("You're invited to join {site}'s {app}"),
                    Body {
                        paragraphs: vec![
                            greeting,
                            why,
                            "Follow the link to choose your password and sign in.".to_string(),
                        ],
                        action: Some(("Join now".to_string(), join_url.clone())),
                    },
                )
            }
            Email::PasswordReset { reset_url, .. } => (
                reset_subject,
                Body {
                    paragraphs: vec![
                        format!(
                            "You're receiving this email because you or someone else asked to reset the password of your {app} account at {}.",
                            ctx.site_url
                        ),
                        "If you did not ask for it, you can ignore this email; your password stays the same.".to_string(),
                    ],
                    action: Some(("Reset password".to_string(), reset_url.clone())),
                },
            ),
            Email::ResetDeactivated { .. } => {
                let contact = ctx
                    .admin_email
                    .clone()
                    .unwrap_or_else(|| "your administrator".to_string());
                (
                    reset_subject,
                    Body {
                        paragraphs: vec![
                            format!("Someone asked to reset the password of your {app} account at {}.", ctx.site_url),
                            format!("Your account has been deactivated. To get it back, please contact {contact}."),
                        ],
                        action: None,
                    },
                )
            }
            Email::ResetSso { sso_source, .. } => (
                reset_subject,
                Body {
                    paragraphs: vec![
                        format!("Someone asked to reset the password of your {app} account at {}.", ctx.site_url),
                        format!(
                            "Your account signs in with {}, so it has no {app} password to reset. Sign in with {} instead.",
                            sso_name(sso_source),
                            sso_name(sso_source)
                        ),
                    ],
                    action: Some(("Sign in".to_string(), format!("{}/auth/login", ctx.site_url))),
                },
            ),
            Email::UserJoined { name, email, .. } => (
                format!("{name} accepted their {app} invite"),
                Body {
                    paragraphs: vec![format!("{name} ({email}) accepted their invite to {site}'s {app}.")],
                    action: Some((
                        "Manage people".to_string(),
                        format!("{}/admin/people", ctx.site_url),
                    )),
                },
            ),
        };
        Rendered {
            text: body.text(),
            html: body.html(&subject),
            subject,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MailContext {
        MailContext {
            app_name: "Metabase".into(),
            site_name: "Acme <Corp>".into(),
            site_url: "http://localhost:3000".into(),
            admin_email: Some("boss@x.com".into()),
        }
    }

    #[test]
    fn subjects_and_links() {
        let t = Templates;
        let invite = Email::Invite {
            to: "a@x.com".into(),
            first_name: Some("Ann".into()),
            inviter: Some("Ada".into()),
            join_url: "http://localhost:3000/auth/reset_password/7_abc#new".into(),
            from_setup: false,
        };
        let r = t.render(&invite, &ctx());
        assert_eq!(r.subject, "You're invited to join Acme <Corp>'s Metabase");
        assert!(r
            .text
            .contains("http://localhost:3000/auth/reset_password/7_abc#new"));
        assert!(
            r.html.contains("Acme &lt;Corp&gt;&#39;s Metabase"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<Corp>"));
        let setup = match invite {
            Email::Invite {
                to,
                first_name,
                inviter,
                join_url,
                ..
            } => Email::Invite {
                to,
                first_name,
                inviter,
                join_url,
                from_setup: true,
            },
            other => other,
        };
        assert!(t
            .render(&setup, &ctx())
            .text
            .contains("Ada could use your help setting up Metabase."));
        let reset = Email::PasswordReset {
            to: "a@x.com".into(),
            reset_url: "http://h/auth/reset_password/7_x".into(),
        };
        assert_eq!(
            t.render(&reset, &ctx()).subject,
            "[Metabase] Password Reset Request"
        );
        let off = t.render(
            &Email::ResetDeactivated {
                to: "a@x.com".into(),
            },
            &ctx(),
        );
        assert_eq!(off.subject, "[Metabase] Password Reset Request");
        assert!(off.text.contains("boss@x.com") && !off.text.contains("reset_password"));
        let sso = t.render(
            &Email::ResetSso {
                to: "a@x.com".into(),
                sso_source: "google".into(),
            },
            &ctx(),
        );
        assert!(sso.text.contains("Google") && !sso.text.contains("reset_password"));
        let joined = t.render(
            &Email::UserJoined {
                to: vec!["b@x.com".into()],
                name: "Ann Lee".into(),
                email: "a@x.com".into(),
            },
            &ctx(),
        );
        assert_eq!(joined.subject, "Ann Lee accepted their Metabase invite");
        assert!(joined.text.contains("http://localhost:3000/admin/people"));
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
