//! Micro-benchmarks of the work a run does before and around its one round trip: parsing and
//! validating the command line, building the CopyImage parameters, and signing them (V1 and V3).
//!
//! `cargo bench --bench signing`; the figures are in BENCHMARKS.md.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use clap::Parser;
use copy_image::cli::Cli;
use copy_image::plan::CopyPlan;
use copy_image::sign::v1::{self, Method, Params, SigningInput};
use copy_image::sign::{self, SignatureVersion};
use criterion::{criterion_group, criterion_main, Criterion};

const ARGS: &[&str] = &[
    "copy-image",
    "--source-region",
    "cn-hangzhou",
    "--image-id",
    "m-bp1h46wfpjsjastc0001",
    "--destination-region",
    "cn-shanghai",
    "--destination-image-name",
    "测试镜像.v1:copy_2-b",
    "--destination-description",
    "copied by copy-image * ~ + / & = % 中文 😀",
    "--tag",
    "team=a b*c~d+e/f&g=h%i",
    "--tag",
    "env=prod",
    "--encrypted",
];

fn input() -> SigningInput<'static> {
    SigningInput {
        access_key_id: "LTAI5tBenchmarkKey0001",
        access_key_secret: "benchmark-secret-0123456789abcdef",
        security_token: None,
        nonce: "0123456789abcdef0123456789abcdef",
        time: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
    }
}

fn request_params() -> Params {
    let cli = Cli::try_parse_from(ARGS).unwrap();
    let plan = CopyPlan::new(&cli, None, None).unwrap();
    plan.copies[0].request().to_params()
}

fn benches(c: &mut Criterion) {
    c.bench_function("parse and validate the command line", |b| {
        b.iter(|| {
            let cli = Cli::try_parse_from(black_box(ARGS)).unwrap();
            CopyPlan::new(&cli, None, None).unwrap()
        })
    });
    let api = request_params();
    c.bench_function("build the CopyImage parameters", |b| {
        b.iter(|| v1::request_params("CopyImage", "2014-05-26", black_box(&api), &input()))
    });
    let all = v1::request_params("CopyImage", "2014-05-26", &api, &input());
    c.bench_function("V1: canonicalize", |b| {
        b.iter(|| v1::canonicalized_query(black_box(&all)))
    });
    let canonical = v1::canonicalized_query(&all);
    let to_sign = v1::string_to_sign(Method::Post, &canonical);
    c.bench_function("V1: HMAC-SHA1 signature", |b| {
        b.iter(|| {
            v1::signature(
                black_box("benchmark-secret-0123456789abcdef"),
                black_box(&to_sign),
            )
        })
    });
    c.bench_function("V1: whole signed query", |b| {
        b.iter(|| {
            v1::signed_query(
                Method::Post,
                black_box(&all),
                "benchmark-secret-0123456789abcdef",
            )
        })
    });
    let form = Params::new();
    let call = sign::Call {
        action: "CopyImage",
        api_version: "2014-05-26",
        host: "ecs.cn-hangzhou.aliyuncs.com",
        query: &api,
        form: &form,
    };
    c.bench_function("V3: whole signed request", |b| {
        b.iter(|| sign::sign(SignatureVersion::V3, black_box(&call), &input()))
    });
}

criterion_group!(signing, benches);
criterion_main!(signing);
