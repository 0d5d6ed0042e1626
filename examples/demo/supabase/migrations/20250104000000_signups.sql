set lock_timeout = '5s';
set statement_timeout = '30s';

-- Sign-ups from the form at /signup. The app's server writes them with its own connection (it owns the
-- table, so RLS does not apply to it); nobody writes through the API.
create table if not exists public.signups (
    id bigint generated always as identity primary key,
    email text not null,
    name text not null,
    created_at timestamptz not null default now()
);

alter table public.signups enable row level security;

-- A signed-in visitor reads their own sign-up, nobody else's; anon reads none.
drop policy if exists signups_read_own on public.signups;
create policy signups_read_own on public.signups
    for select to authenticated
    using (email = (select auth.email()));
