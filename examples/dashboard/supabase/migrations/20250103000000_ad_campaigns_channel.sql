set lock_timeout = '5s';
set statement_timeout = '30s';

-- Which network a campaign runs on. Nullable and without a default: adding it rewrites nothing.
alter table public.ad_campaigns add column if not exists channel text;

insert into public.dashboard_tiles (name, label, value, position) values
    ('campaigns', 'Active campaigns', '(live)', 4)
on conflict (name) do nothing;
