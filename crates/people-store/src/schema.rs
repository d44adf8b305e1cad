//! Diesel's view of the tables (hand-written; one schema for both back ends, portable types only).

diesel::table! {
    /// Users (Metabase's `core_user`).
    core_user (id) {
        id -> Integer,
        email -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        password -> Nullable<Text>,
        password_salt -> Nullable<Text>,
        date_joined -> Timestamp,
        last_login -> Nullable<Timestamp>,
        is_superuser -> Bool,
        is_active -> Bool,
        reset_token -> Nullable<Text>,
        reset_triggered -> Nullable<BigInt>,
        is_qbnewb -> Bool,
        is_datasetnewb -> Bool,
        login_attributes -> Nullable<Text>,
        updated_at -> Timestamp,
        sso_source -> Nullable<Text>,
        locale -> Nullable<Text>,
        settings -> Nullable<Text>,
        #[sql_name = "type"]
        user_type -> Text,
    }
}

diesel::table! {
    /// Groups.
    permissions_group (id) {
        id -> Integer,
        name -> Text,
        entity_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Memberships.
    permissions_group_membership (id) {
        id -> Integer,
        user_id -> Integer,
        group_id -> Integer,
        is_group_manager -> Bool,
    }
}

diesel::table! {
    /// Sessions, keyed by the SHA-256 of the token.
    core_session (id) {
        id -> Text,
        user_id -> Integer,
        created_at -> Timestamp,
        anti_csrf_token -> Nullable<Text>,
    }
}

diesel::table! {
    /// Successful logins.
    login_history (id) {
        id -> Integer,
        timestamp -> Timestamp,
        user_id -> Integer,
        session_id -> Nullable<Text>,
        device_id -> Text,
        device_description -> Text,
        ip_address -> Text,
    }
}

diesel::table! {
    /// Key/value settings.
    setting (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    /// Emails waiting for delivery.
    email_outbox (id) {
        id -> BigInt,
        recipients -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(permissions_group_membership -> core_user (user_id));
diesel::joinable!(permissions_group_membership -> permissions_group (group_id));
diesel::joinable!(core_session -> core_user (user_id));
diesel::joinable!(login_history -> core_user (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    core_user,
    permissions_group,
    permissions_group_membership,
    core_session,
    login_history,
    setting,
    email_outbox,
);
