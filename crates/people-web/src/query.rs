//! Query strings: decoded into the pairs people-domain parses its commands from.

use actix_web::{web, HttpRequest};
use people_domain::DomainError;

/// Query parameters as pairs; an undecodable query string is a bad request (reported after authentication).
pub(crate) fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, DomainError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| DomainError::Disallowed("Invalid Request.".into()))
}
