"""Generate the example project's card-fraud seed data (deterministic, no network).

Writes four CSVs into the output directory (default: the directory of this file):

- customers.csv     customer_id, signup_date, country, birth_year, segment
- merchants.csv     merchant_id, name, category, country
- transactions.csv  txn_id, customer_id, merchant_id, ts, amount, channel, country
- fraud_labels.csv  txn_id, is_fraud, labeled_at

90 days of card transactions from 2024-01-01 (timestamps are naive UTC). Legitimate
spending follows each customer's habits (usual amount, online propensity, home country).
Fraud comes in short bursts on one card and is learnable: amounts several times the
customer's usual, mostly online, risky categories (electronics, jewelry, gambling,
digital goods), often in a foreign country, at any hour. Labels arrive late: a fraud is
reported hours to weeks after the transaction; a legitimate transaction is confirmed by
the nightly 02:00 job once its 7-day dispute window has passed.

A little dirt for the staging model to clean: ~1% of channels are upper-case, ~0.3% of
rows are reversals with a negative amount.

Distribution shift: from 2024-03-10 (the last 3 weeks) every amount is 30% higher, the
online share rises (each customer's online odds x2), a new merchant category
`crypto_exchange` appears (online only, popular with fraudsters) and the fraud rate rises
from ~1.8% to ~3.3%. Measured on the committed files (before -> after): median amount
51 -> 72, online share 27% -> 40%, crypto_exchange 0% -> 3.3% of rows, fraud 1.83% -> 3.33%.

    python seeds/generate.py                      # the committed files
    python seeds/generate.py --out /tmp/big --scale 10
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240101
START = pd.Timestamp("2024-01-01")
DAYS = 90
SHIFT_DAY = 69                                  # 2024-03-10: the last 21 days drift
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "ES"]
COUNTRY_P = [0.35, 0.20, 0.15, 0.12, 0.08, 0.10]
SEGMENTS = {"standard": (0.60, 1.0), "premium": (0.15, 1.8),   # share, spend factor
            "student": (0.15, 0.6), "business": (0.10, 1.5)}
# category: (share of merchants, amount scale relative to the customer's usual, name word)
CATEGORIES = {
    "grocery": (0.20, 1.0, "Market"), "restaurant": (0.18, 0.8, "Bistro"),
    "fuel": (0.08, 1.2, "Fuel"), "pharmacy": (0.06, 0.6, "Pharmacy"),
    "fashion": (0.12, 2.0, "Boutique"), "electronics": (0.08, 5.0, "Electronics"),
    "jewelry": (0.03, 8.0, "Jewels"), "travel": (0.06, 8.0, "Travel"),
    "digital_goods": (0.07, 0.4, "Digital"), "gambling": (0.03, 2.0, "Casino"),
    "atm_cash": (0.06, 2.5, "Bank ATM"), "crypto_exchange": (0.03, 6.0, "Crypto"),
}
# which categories a channel's transactions go to: {channel: {category: weight}}
LEGIT_MIX = {
    "pos": {"grocery": 35, "restaurant": 25, "fuel": 15, "pharmacy": 8, "fashion": 10,
            "electronics": 4, "jewelry": 1, "travel": 2},
    "online": {"digital_goods": 30, "fashion": 25, "electronics": 15, "travel": 15,
               "gambling": 5, "restaurant": 10, "crypto_exchange": 8},
    "atm": {"atm_cash": 1},
}
FRAUD_MIX = {
    "pos": {"electronics": 35, "jewelry": 20, "fashion": 15, "grocery": 10, "fuel": 10,
            "restaurant": 10},
    "online": {"electronics": 30, "digital_goods": 25, "gambling": 20, "travel": 15,
               "fashion": 10, "crypto_exchange": 30},
    "atm": {"atm_cash": 1},
}
NAME_WORDS = ["Blue", "North", "Prime", "Metro", "Urban", "Golden", "Rapid", "Green",
              "Silver", "Sunny", "Royal", "Corner"]


def make_customers(rng, n):
    seg_names = list(SEGMENTS)
    return pd.DataFrame({
        "customer_id": np.arange(1, n + 1),
        "signup_date": (START - pd.to_timedelta(rng.integers(1, 6 * 365, n), unit="D"))
        .strftime("%Y-%m-%d"),
        "country": rng.choice(COUNTRIES, n, p=COUNTRY_P),
        "birth_year": np.clip(rng.normal(1984, 13, n).round(), 1945, 2005).astype(int),
        "segment": rng.choice(seg_names, n, p=[SEGMENTS[s][0] for s in seg_names]),
    })


def make_merchants(rng, n):
    cats = list(CATEGORIES)
    share = np.array([CATEGORIES[c][0] for c in cats])
    # every category gets at least one merchant, the rest are drawn by share
    category = np.concatenate([cats, rng.choice(cats, n - len(cats), p=share / share.sum())])
    words = rng.choice(NAME_WORDS, n)
    return pd.DataFrame({
        "merchant_id": np.arange(1, n + 1),
        "name": [f"{w} {CATEGORIES[c][2]} {i}" for i, (w, c) in enumerate(zip(words, category), 1)],
        "category": category,
        "country": rng.choice(COUNTRIES, n, p=COUNTRY_P),
    })


def pick_category(rng, channel, after_shift, is_fraud):
    """One category per transaction from the channel's mix (crypto only after the shift)."""
    out = np.empty(len(channel), dtype=object)
    for fraud, mixes in ((False, LEGIT_MIX), (True, FRAUD_MIX)):
        for ch, mix in mixes.items():
            for shifted in (False, True):
                m = (channel == ch) & (after_shift == shifted) & (is_fraud == fraud)
                w = {c: v for c, v in mix.items() if shifted or c != "crypto_exchange"}
                p = np.array(list(w.values()), dtype=float)
                out[m] = rng.choice(list(w), m.sum(), p=p / p.sum())
    return out


def pick_merchant(rng, merchants, category, country):
    """A merchant of that category, in that country when one exists, popular ones more often."""
    popularity = rng.gamma(1.5, 1.0, len(merchants))
    out = np.zeros(len(category), dtype=int)
    groups = pd.DataFrame({"c": category, "k": country}).groupby(["c", "k"]).groups
    for (cat, ctry), idx in groups.items():
        cand = merchants.index[(merchants.category == cat) & (merchants.country == ctry)]
        if len(cand) == 0:
            cand = merchants.index[merchants.category == cat]
        p = popularity[cand] / popularity[cand].sum()
        out[idx] = merchants.merchant_id.to_numpy()[rng.choice(cand, len(idx), p=p)]
    return out


def make_transactions(rng, customers, merchants, n):
    nc = len(customers)
    base = rng.lognormal(np.log(40), 0.5, nc) * customers.segment.map(
        {s: f for s, (_, f) in SEGMENTS.items()}).to_numpy()
    online_p = rng.beta(2, 5, nc)
    activity = rng.gamma(2.0, 1.0, nc)
    home = customers.country.to_numpy()

    # fraud: bursts of 1-4 transactions on one card within a few hours, more after the shift
    day_w = np.where(np.arange(DAYS) >= SHIFT_DAY, 0.035, 0.018)
    n_events = int(round(n * day_w.mean() / 2.0))
    ev_size = 1 + np.minimum(rng.poisson(1.0, n_events), 3)
    ev_start = (rng.choice(DAYS, n_events, p=day_w / day_w.sum()) * 86400
                + rng.integers(0, 86400, n_events))
    ev_channel = rng.choice(["online", "pos", "atm"], n_events, p=[0.6, 0.28, 0.12])
    ev_foreign = rng.random(n_events) < 0.45
    ev = np.repeat(np.arange(n_events), ev_size)
    nf = len(ev)
    gaps = [np.cumsum(rng.exponential(2400, k)) - 600 for k in ev_size]   # ~40 min apart
    f_secs = ev_start[ev] + np.concatenate(gaps)
    fraud = pd.DataFrame({"cust": rng.integers(0, nc, n_events)[ev], "secs": f_secs,
                          "channel": ev_channel[ev], "foreign": ev_foreign[ev], "is_fraud": True})

    # legitimate: active customers more often, daytime hours, mostly at home
    nl = n - nf
    cust = rng.choice(nc, nl, p=activity / activity.sum())
    day = rng.integers(0, DAYS, nl)
    hour = np.clip(rng.normal(14, 4, nl), 0, 23.99)
    shifted = day >= SHIFT_DAY
    odds = online_p[cust] / (1 - online_p[cust]) * np.where(shifted, 2.0, 1.0)
    u = rng.random(nl)
    online = rng.random(nl) < odds / (1 + odds)
    channel = np.where(u < 0.06, "atm", np.where(online, "online", "pos"))
    legit = pd.DataFrame({"cust": cust, "secs": day * 86400 + hour * 3600, "channel": channel,
                          "foreign": rng.random(nl) < 0.04, "is_fraud": False})

    t = pd.concat([legit, fraud], ignore_index=True)
    t["secs"] = t.secs.clip(0, DAYS * 86400 - 1).astype(int)
    t = t.sort_values(["secs", "cust"], kind="stable").reset_index(drop=True)
    after = t.secs.to_numpy() >= SHIFT_DAY * 86400
    is_fraud = t.is_fraud.to_numpy()
    home_t = home[t.cust]
    others = np.array([[c for c in COUNTRIES if c != h] for h in COUNTRIES])
    home_idx = [COUNTRIES.index(h) for h in home_t]
    abroad = others[home_idx, rng.integers(0, len(COUNTRIES) - 1, len(t))]
    country = np.where(t.foreign, abroad, home_t)
    category = pick_category(rng, t.channel.to_numpy(), after, is_fraud)

    amount = (base[t.cust] * np.array([CATEGORIES[c][1] for c in category])
              * rng.lognormal(0, 0.6, len(t))
              * np.where(is_fraud, rng.lognormal(np.log(2.5), 0.5, len(t)), 1.0)
              * np.where(after, 1.3, 1.0))
    amount = np.where(category == "atm_cash", np.maximum(20, np.round(amount / 10) * 10), amount)
    reversal = ~is_fraud & (rng.random(len(t)) < 0.003)
    amount = np.where(reversal, -amount, amount).round(2)
    shouting = rng.random(len(t)) < 0.01
    channel = np.where(shouting, np.char.upper(t.channel.to_numpy().astype(str)), t.channel)

    ts = START + pd.to_timedelta(t.secs, unit="s")
    txns = pd.DataFrame({
        "txn_id": np.arange(1, len(t) + 1), "customer_id": t.cust + 1,
        "merchant_id": pick_merchant(rng, merchants, category, country),
        "ts": ts, "amount": amount, "channel": channel, "country": country,
    })
    # labels: fraud reported after hours..weeks; legit confirmed at 02:00 after 7 full days
    delay = pd.to_timedelta(rng.lognormal(np.log(2 * 86400), 0.9, len(t)).astype(int), unit="s")
    labeled_at = np.where(is_fraud, ts + delay, ts.dt.normalize() + pd.Timedelta(days=8, hours=2))
    labels = pd.DataFrame({"txn_id": txns.txn_id, "is_fraud": is_fraud.astype(int),
                           "labeled_at": pd.to_datetime(labeled_at).floor("s")})
    return txns, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the row counts")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    customers = make_customers(rng, max(10, int(2000 * args.scale)))
    merchants = make_merchants(rng, max(len(CATEGORIES) * 2, int(300 * args.scale)))
    txns, labels = make_transactions(rng, customers, merchants, max(200, int(60000 * args.scale)))
    args.out.mkdir(parents=True, exist_ok=True)
    fmt = "%Y-%m-%d %H:%M:%S"
    for name, df in [("customers", customers), ("merchants", merchants),
                     ("transactions", txns), ("fraud_labels", labels)]:
        df.to_csv(args.out / f"{name}.csv", index=False, date_format=fmt, float_format="%.2f")
        print(f"{name}.csv: {len(df)} rows")
    print(f"fraud rate {labels.is_fraud.mean():.4f}")


if __name__ == "__main__":
    main()
