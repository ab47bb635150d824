//! Pricing units, checked by hand: one 1 GiB unit idle for 20 s is 20 GiB-s, which AWS Lambda
//! (GB-second = memory in MB / 1024 x seconds) prices as 20 x $/GB-s; counted in decimal GB it
//! would be 21.47 GB-s, billing 7.4% more than the provider does.

use unitlab_platform::calibration::Calibration;
use unitlab_platform::policy::{Policy, NS_PER_S};
use unitlab_platform::pricing::load_pricing;
use unitlab_platform::sim::{simulate, SimOptions};
use unitlab_platform::synth::inv;
use unitlab_platform::validate::sim_run;
use unitlab_results::platform::{MemoryUnit, Pricing};

const GIB: u64 = 1 << 30;

/// One invocation of 0 ns at t = 0 on an ideal (instant) 1 GiB unit, 20 s keep-alive: the
/// unit idles 20 s, then expires.
fn idle_20s(pricing: &Pricing) -> unitlab_results::platform::PlatformRun {
    let cal = Calibration::ideal(Some(GIB));
    let out = simulate(
        vec![inv(0, 0, 0)].into_iter().map(Ok),
        &Policy::fixed(20 * NS_PER_S),
        &cal,
        &SimOptions {
            functions: 1,
            ..SimOptions::default()
        },
    )
    .unwrap();
    sim_run("ideal", &out.platform, 0.0, &cal, pricing)
}

#[test]
fn the_shipped_prices_count_a_gb_as_lambda_does() {
    let p = load_pricing(None).unwrap();
    assert_eq!(p.pay_per_use.as_ref().unwrap().memory_unit, MemoryUnit::Gib);
    assert_eq!(p.provisioned.as_ref().unwrap().memory_unit, MemoryUnit::Gib);
    let run = idle_20s(&p);
    // Usage is recorded in decimal GB-s: 2^30 B x 20 s / 10^9 = 21.474836480.
    let g = run.usage.gb_seconds.unwrap();
    assert!((g.idle - 21.474_836_48).abs() < 1e-9, "{}", g.idle);
    // Priced per GiB-s: exactly 20 x $0.0000166667.
    let waiting = run.waiting.pay_per_use.unwrap();
    assert!(
        (waiting - 20.0 * 0.000_016_666_7).abs() < 1e-15,
        "{waiting}"
    );
    // Provisioned: 20 GiB-s x $0.015 / GiB-hour.
    let prov = run.waiting.provisioned.unwrap();
    assert!((prov - 20.0 * 0.015 / 3600.0).abs() < 1e-15, "{prov}");
    let cost = run.costs.pay_per_use.unwrap();
    assert!((cost.idle - waiting).abs() < 1e-18);
    // The request charge: one request at $0.20 per million.
    assert!((cost.billed - 0.2e-6).abs() < 1e-18, "{}", cost.billed);
}

#[test]
fn a_decimal_gb_price_bills_the_same_unit_seven_percent_more() {
    let text = "[pay_per_use]\ngb_second = 0.0000166667\n";
    let p: Pricing = toml::from_str(text).unwrap();
    assert_eq!(p.pay_per_use.as_ref().unwrap().memory_unit, MemoryUnit::Gb);
    let run = idle_20s(&p);
    let waiting = run.waiting.pay_per_use.unwrap();
    assert!((waiting - 21.474_836_48 * 0.000_016_666_7).abs() < 1e-15);
    let gib = idle_20s(&load_pricing(None).unwrap())
        .waiting
        .pay_per_use
        .unwrap();
    assert!((waiting / gib - 1.073_741_824).abs() < 1e-9);
}

#[test]
fn an_unknown_memory_unit_is_refused_with_the_accepted_values() {
    let text = "[pay_per_use]\ngb_second = 1.0\nmemory_unit = \"MB\"\n";
    let e = toml::from_str::<Pricing>(text).unwrap_err().to_string();
    assert!(e.contains("GB") && e.contains("GiB"), "{e}");
}
