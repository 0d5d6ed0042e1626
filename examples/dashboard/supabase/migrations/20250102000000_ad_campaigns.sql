set lock_timeout = '5s';
set statement_timeout = '30s';

-- Ad campaigns the ads tile summarises.
create table if not exists public.ad_campaigns (
    id bigint generated always as identity primary key,
    name text not null unique,
    status text not null default 'active',
    spend_cents bigint not null default 0,
    created_at timestamptz not null default now()
);

alter table public.ad_campaigns enable row level security;

drop policy if exists ad_campaigns_read on public.ad_campaigns;
create policy ad_campaigns_read on public.ad_campaigns
    for select to anon, authenticated
    using (true);

insert into public.ad_campaigns (name, status, spend_cents) values
    ('Spring sale', 'active', 125000),
    ('Retargeting', 'active', 48000),
    ('Black Friday teaser', 'paused', 0)
on conflict (name) do nothing;
