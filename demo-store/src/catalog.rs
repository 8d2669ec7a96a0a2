//! The demo catalogue: a handful of believable electronics.

use serde::Serialize;

/// A product.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    /// Stock-keeping unit, used in URLs.
    pub sku: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Price in cents.
    pub price_cents: u32,
    /// One-line description.
    pub blurb: &'static str,
}

/// Every product.
pub const PRODUCTS: &[Product] = &[
    Product {
        sku: "hdp-200",
        name: "Aurora Wireless Headphones",
        price_cents: 12900,
        blurb: "Noise cancelling, 30 h battery.",
    },
    Product {
        sku: "kbd-75",
        name: "Ferrite 75% Keyboard",
        price_cents: 8900,
        blurb: "Hot-swap switches, aluminium case.",
    },
    Product {
        sku: "mon-27",
        name: "Lumen 27\" 4K Monitor",
        price_cents: 32900,
        blurb: "IPS, 144 Hz, USB-C 90 W.",
    },
    Product {
        sku: "cam-4k",
        name: "Pico 4K Webcam",
        price_cents: 7900,
        blurb: "Autofocus, dual microphones.",
    },
    Product {
        sku: "ssd-2t",
        name: "Vault 2 TB NVMe SSD",
        price_cents: 14900,
        blurb: "7 GB/s reads, 5-year warranty.",
    },
    Product {
        sku: "chg-100",
        name: "Volt 100 W GaN Charger",
        price_cents: 5900,
        blurb: "Three ports, fits in a pocket.",
    },
];

/// The product with this SKU.
pub fn find(sku: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.sku == sku)
}
