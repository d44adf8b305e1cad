//! The storage contract (`people_domain::testing::contract`) on the Diesel store: `sqlite::…` always,
//! `postgres::…` when PEOPLE_TEST_POSTGRES_URL is set. Each check gets its own fresh database.

use people_domain::store::Store;
use people_domain::testing::contract::Subject;
use people_domain::EmailId;
use people_store::testing::TestDb;

/// A test database as a contract subject.
struct Diesel(TestDb);

impl Subject for Diesel {
    fn store(&self) -> &dyn Store {
        &self.0.db
    }

    fn outbox_bodies(&self) -> Vec<(EmailId, String, String)> {
        self.0
            .outbox()
            .into_iter()
            .map(|row| (EmailId(row.id), row.body_text, row.body_html))
            .collect()
    }
}

mod sqlite {
    people_domain::repo_contract_tests!(super::Diesel(people_store::testing::TestDb::sqlite()));
}

mod postgres {
    people_domain::repo_contract_tests!(
        optional people_store::testing::TestDb::postgres().map(super::Diesel),
        format!("{} is not set", people_store::testing::POSTGRES_ENV)
    );
}
