set lock_timeout = '5s';
set statement_timeout = '30s';

-- The tiles of the dashboard page: one row per tile, shown in position order.
create table if not exists public.dashboard_tiles (
    name text primary key,
    label text not null,
    value text not null,
    position bigint not null default 0
);

alter table public.dashboard_tiles enable row level security;

-- The dashboard is read by the embedded app's anonymous and signed-in sessions; nobody writes through the API.
drop policy if exists dashboard_tiles_read on public.dashboard_tiles;
create policy dashboard_tiles_read on public.dashboard_tiles
    for select to anon, authenticated
    using (true);

insert into public.dashboard_tiles (name, label, value, position) values
    ('revenue', 'Revenue (30 days)', '$48,210', 1),
    ('orders', 'Orders (30 days)', '1,284', 2),
    ('conversion', 'Conversion rate', '3.1%', 3)
on conflict (name) do nothing;
