//! The storage contract on the in-memory store the use-case tests run on: the fake must behave as
//! people-store does (which runs the same contract on SQLite and PostgreSQL).

mod memory {
    people_domain::repo_contract_tests!(people_domain::testing::MemoryStore::new());
}
