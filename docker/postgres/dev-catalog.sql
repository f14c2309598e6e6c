-- The catalog of docker/compose.dev.yaml: a `hindsight` role with a fixed password, owning its
-- database. Development only.
create role hindsight login password 'hindsight';
create database hindsight owner hindsight;
