//! The words the demo is made of: people's names, group names, what a marketing department
//! asks its help desk about, its ad accounts and campaigns, and what its CRM knows of a lead. Changing a list changes the generated data, so tests pin the sizes
//! the name permutation relies on.

/// The domain of every generated e-mail address (reserved `.example` TLD).
pub(crate) const EMAIL_DOMAIN: &str = "demo.okno.example";

/// The base URL in `raw` objects, shaped like a Zendesk account.
pub(crate) const API_BASE: &str = "https://demo.okno.example/api/v2";

/// First names: the first half female, the second half male (the surname's form follows).
pub(crate) const FIRST_NAMES: [&str; 40] = [
    "Anna",
    "Maria",
    "Elena",
    "Olga",
    "Natalia",
    "Irina",
    "Ekaterina",
    "Tatiana",
    "Svetlana",
    "Yulia",
    "Anastasia",
    "Daria",
    "Ksenia",
    "Polina",
    "Alina",
    "Victoria",
    "Sofia",
    "Valeria",
    "Marina",
    "Vera",
    "Ivan",
    "Alexey",
    "Dmitry",
    "Sergey",
    "Andrey",
    "Mikhail",
    "Nikolai",
    "Pavel",
    "Artem",
    "Maxim",
    "Egor",
    "Kirill",
    "Roman",
    "Denis",
    "Oleg",
    "Ilya",
    "Vladimir",
    "Timur",
    "Konstantin",
    "Grigory",
];
pub(crate) const FEMALE_FIRST_NAMES: usize = 20;

/// Surnames as (male, female) forms.
pub(crate) const SURNAMES: [(&str, &str); 32] = [
    ("Petrov", "Petrova"),
    ("Ivanov", "Ivanova"),
    ("Smirnov", "Smirnova"),
    ("Kuznetsov", "Kuznetsova"),
    ("Popov", "Popova"),
    ("Sokolov", "Sokolova"),
    ("Lebedev", "Lebedeva"),
    ("Kozlov", "Kozlova"),
    ("Novikov", "Novikova"),
    ("Morozov", "Morozova"),
    ("Volkov", "Volkova"),
    ("Solovyov", "Solovyova"),
    ("Vasiliev", "Vasilieva"),
    ("Zaitsev", "Zaitseva"),
    ("Pavlov", "Pavlova"),
    ("Semenov", "Semenova"),
    ("Golubev", "Golubeva"),
    ("Vinogradov", "Vinogradova"),
    ("Bogdanov", "Bogdanova"),
    ("Vorobyov", "Vorobyova"),
    ("Fedorov", "Fedorova"),
    ("Orlov", "Orlova"),
    ("Belov", "Belova"),
    ("Komarov", "Komarova"),
    ("Kiselev", "Kiseleva"),
    ("Makarov", "Makarova"),
    ("Zakharov", "Zakharova"),
    ("Borisov", "Borisova"),
    ("Romanov", "Romanova"),
    ("Nikitin", "Nikitina"),
    ("Sorokin", "Sorokina"),
    ("Kim", "Kim"),
];

/// Distinct (first name, surname) pairs.
pub(crate) const NAME_PAIRS: u64 = (FIRST_NAMES.len() * SURNAMES.len()) as u64;

/// Names of the first groups; further groups repeat them with a number ("Performance Ads 2").
/// A topic's `group` indexes this list.
pub(crate) const GROUP_NAMES: [(&str, &str); 8] = [
    (
        "Performance Ads",
        "Paid search and social: VK Ads, Yandex Direct, Google Ads, Meta",
    ),
    (
        "Web & Landing Pages",
        "Promo sites, landing pages, forms and redirects",
    ),
    ("Content & SMM", "Copy, social media, video and the blog"),
    (
        "Marketing Analytics",
        "UTM marks, attribution, dashboards and reports",
    ),
    ("Email & CRM", "Newsletters, segments and CRM data"),
    ("Brand & Design", "Key visuals, layouts and brand assets"),
    ("Events & PR", "Conferences, webinars and press"),
    ("Partnerships", "Co-marketing, affiliates and promo codes"),
];

/// A campaign a request can be about: its name in a subject and its tag.
pub(crate) struct Campaign {
    pub(crate) name: &'static str,
    pub(crate) tag: &'static str,
}

pub(crate) const CAMPAIGNS: &[Campaign] = &[
    Campaign {
        name: "spring campaign",
        tag: "spring_campaign",
    },
    Campaign {
        name: "Black Friday sale",
        tag: "black_friday",
    },
    Campaign {
        name: "summer webinar series",
        tag: "webinars",
    },
    Campaign {
        name: "New Year promo",
        tag: "new_year",
    },
    Campaign {
        name: "back-to-school promo",
        tag: "back_to_school",
    },
    Campaign {
        name: "product launch",
        tag: "product_launch",
    },
    Campaign {
        name: "loyalty programme",
        tag: "loyalty",
    },
    Campaign {
        name: "partner conference",
        tag: "partner_conference",
    },
];

/// What a request is about: its subject (`{c}` stands for a campaign name), the group that
/// handles it (an index into [`GROUP_NAMES`]) and its tags.
pub(crate) struct Topic {
    pub(crate) subject: &'static str,
    pub(crate) group: u64,
    pub(crate) tags: &'static [&'static str],
}

impl Topic {
    /// The subject with the campaign filled in, and whether the campaign is mentioned.
    pub(crate) fn subject_for(&self, campaign: &Campaign) -> (String, bool) {
        match self.subject.split_once("{c}") {
            Some((before, after)) => {
                let mut s = String::with_capacity(self.subject.len() + campaign.name.len());
                s.push_str(before);
                s.push_str(campaign.name);
                s.push_str(after);
                (s, true)
            }
            None => (self.subject.to_owned(), false),
        }
    }
}

const fn topic(subject: &'static str, group: u64, tags: &'static [&'static str]) -> Topic {
    Topic {
        subject,
        group,
        tags,
    }
}

pub(crate) const TOPICS: &[Topic] = &[
    topic("Banner sizes for VK Ads", 0, &["vk_ads", "banners"]),
    topic(
        "Launch Yandex Direct ads for the {c}",
        0,
        &["yandex_direct", "launch"],
    ),
    topic(
        "Google Ads budget ran out before the end of the month",
        0,
        &["google_ads", "budget"],
    ),
    topic(
        "Retargeting audience for the {c}",
        0,
        &["vk_ads", "retargeting"],
    ),
    topic(
        "Ad rejected by moderation: the copy needs a rewrite",
        0,
        &["moderation", "copy"],
    ),
    topic("Raise the daily budget of the {c} ads", 0, &["budget"]),
    topic(
        "Meta Ads account suspended over a payment",
        0,
        &["meta_ads", "billing"],
    ),
    topic("Landing page for the {c}", 1, &["landing"]),
    topic(
        "Contact form on the landing page does not send leads",
        1,
        &["landing", "forms", "bug"],
    ),
    topic(
        "Promo site is slow on mobile",
        1,
        &["landing", "performance"],
    ),
    topic("Cookie banner for the promo site", 1, &["landing", "legal"]),
    topic(
        "Redirect old campaign URLs to the new landing page",
        1,
        &["landing", "seo"],
    ),
    topic("Telegram posts about the {c}", 2, &["smm", "telegram"]),
    topic(
        "Copy review for the {c} newsletter",
        2,
        &["copy", "newsletter"],
    ),
    topic("Subtitles for the {c} video", 2, &["video", "smm"]),
    topic(
        "Reply to a negative review on VK",
        2,
        &["smm", "reputation"],
    ),
    topic(
        "Blog article on the results of the {c}",
        2,
        &["content", "blog"],
    ),
    topic(
        "UTM marks missing on newsletter links",
        3,
        &["utm", "newsletter", "analytics"],
    ),
    topic(
        "Leads from the {c} are not attributed in the CRM",
        3,
        &["attribution", "crm"],
    ),
    topic("Weekly report on CPL by channel", 3, &["report", "cpl"]),
    topic(
        "Dashboard counts conversions twice",
        3,
        &["dashboard", "bug"],
    ),
    topic(
        "Call tracking for the {c}",
        3,
        &["calltracking", "analytics"],
    ),
    topic(
        "Conversion goal not firing in Yandex Metrica",
        3,
        &["yandex_metrica", "analytics"],
    ),
    topic(
        "Newsletter about the {c} lands in spam",
        4,
        &["newsletter", "deliverability"],
    ),
    topic(
        "Segment of inactive clients for a win-back mailing",
        4,
        &["crm", "segment"],
    ),
    topic(
        "Unsubscribe link broken in the last mailing",
        4,
        &["newsletter", "bug"],
    ),
    topic(
        "Import exhibition leads into the CRM",
        4,
        &["crm", "import"],
    ),
    topic("Key visual for the {c}", 5, &["design", "key_visual"]),
    topic(
        "Logo in vector formats for a partner",
        5,
        &["design", "brand"],
    ),
    topic(
        "Presentation template for the sales team",
        5,
        &["design", "presentation"],
    ),
    topic("Print layout of the {c} flyers", 5, &["design", "print"]),
    topic(
        "Booth materials for the partner conference",
        6,
        &["events", "print"],
    ),
    topic("Press release about the {c}", 6, &["pr", "press_release"]),
    topic(
        "Webinar registration page and reminder e-mails",
        6,
        &["events", "webinar"],
    ),
    topic("Speaker slides for the marketing meetup", 6, &["events"]),
    topic(
        "Co-marketing offer from a partner: please review",
        7,
        &["partners"],
    ),
    topic(
        "Promo codes for the {c} in a partner newsletter",
        7,
        &["partners", "promo_codes"],
    ),
    topic(
        "Affiliate payout report does not match the CRM",
        7,
        &["partners", "billing"],
    ),
];

/// `via.channel` values and how often requests arrive through each.
pub(crate) const CHANNELS: [&str; 4] = ["email", "web", "api", "chat"];
pub(crate) const CHANNEL_WEIGHTS: [u32; 4] = [45, 30, 10, 15];

/// Priorities (`None`: not set) and their weights.
pub(crate) const PRIORITIES: [Option<&str>; 5] = [
    None,
    Some("low"),
    Some("normal"),
    Some("high"),
    Some("urgent"),
];
pub(crate) const PRIORITY_WEIGHTS: [u32; 5] = [8, 18, 50, 17, 7];

/// Ticket types (`None`: not set) and their weights.
pub(crate) const TICKET_TYPES: [Option<&str>; 5] = [
    None,
    Some("question"),
    Some("incident"),
    Some("problem"),
    Some("task"),
];
pub(crate) const TICKET_TYPE_WEIGHTS: [u32; 5] = [6, 38, 24, 5, 27];

/// Statuses of a ticket that has had a reply but is not solved, and their weights.
pub(crate) const WAITING_STATUSES: [&str; 3] = ["open", "pending", "hold"];
pub(crate) const WAITING_STATUS_WEIGHTS: [u32; 3] = [55, 30, 15];

/// The advertising platforms the demo's ad accounts imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Platform {
    YandexDirect,
    GoogleAds,
    VkAds,
}

/// An ad account: the platform it imitates, its id and name. All bill in RUB and count their days
/// in Moscow time, so reports need no exchange rate.
pub(crate) struct AdAccountSpec {
    pub(crate) platform: Platform,
    /// Yandex client login, Google customer id without dashes, VK account id.
    pub(crate) account_id: &'static str,
    pub(crate) name: &'static str,
    /// The `campaign.channel` figures group this account's campaigns under.
    pub(crate) channel: &'static str,
    /// `utm_source` of its links and the CRM's lead source for its leads.
    pub(crate) utm_source: &'static str,
    pub(crate) lead_source: &'static str,
    /// The first campaign id; campaign `c` of the demo has id `first_campaign_id + c`.
    pub(crate) first_campaign_id: u64,
}

pub(crate) const AD_CURRENCY: &str = "RUB";
pub(crate) const AD_TIME_ZONE: &str = "Europe/Moscow";

/// The ad accounts, indexed by [`AdCampaignSpec::account`].
pub(crate) const AD_ACCOUNTS: [AdAccountSpec; 3] = [
    AdAccountSpec {
        platform: Platform::YandexDirect,
        account_id: "okno-demo-direct",
        name: "Окно Демо — Яндекс Директ",
        channel: "yandex_direct",
        utm_source: "yandex",
        lead_source: "Yandex Direct",
        first_campaign_id: 71_250_000,
    },
    AdAccountSpec {
        platform: Platform::GoogleAds,
        account_id: "5839201746",
        name: "Okno Demo — Google Ads",
        channel: "google_ads",
        utm_source: "google",
        lead_source: "Google Ads",
        first_campaign_id: 20_871_230_000,
    },
    AdAccountSpec {
        platform: Platform::VkAds,
        account_id: "1902417",
        name: "Окно Демо — VK Реклама",
        channel: "vk_ads",
        utm_source: "vk",
        lead_source: "VK Ads",
        first_campaign_id: 9_140_000,
    },
];

/// What sort of campaign it is: sets its cost per lead and click, how well its leads buy, and
/// whether it runs all the time or for a season.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CampaignKind {
    Brand,
    Search,
    Retargeting,
    Smart,
    Network,
    Lookalike,
    Social,
    Promo,
}

/// The numbers a kind of campaign is drawn from. Money in whole rubles.
pub(crate) struct KindProfile {
    /// Relative share of the leads while running.
    pub(crate) weight: (u64, u64),
    /// Cost per lead.
    pub(crate) cpl_rub: (u64, u64),
    /// Cost per click.
    pub(crate) cpc_rub: (u64, u64),
    /// Clicks per thousand impressions.
    pub(crate) ctr_per_mille: (u64, u64),
    /// How well its leads buy, per mille of the segment's own rate.
    pub(crate) quality_per_mille: u64,
}

impl CampaignKind {
    pub(crate) const fn profile(self) -> KindProfile {
        let (weight, cpl_rub, cpc_rub, ctr_per_mille, quality_per_mille) = match self {
            CampaignKind::Brand => ((6, 10), (600, 1_100), (15, 40), (120, 220), 1_450),
            CampaignKind::Search => ((8, 16), (2_300, 4_200), (60, 160), (40, 90), 1_100),
            CampaignKind::Retargeting => ((4, 8), (1_100, 2_000), (12, 35), (6, 15), 1_250),
            CampaignKind::Smart => ((6, 12), (1_800, 3_000), (25, 70), (10, 30), 900),
            CampaignKind::Network => ((3, 6), (2_600, 4_800), (8, 25), (2, 6), 650),
            CampaignKind::Lookalike => ((4, 9), (1_300, 2_400), (10, 30), (4, 10), 800),
            CampaignKind::Social => ((5, 10), (900, 1_800), (8, 25), (4, 12), 600),
            CampaignKind::Promo => ((8, 14), (1_200, 2_600), (15, 45), (8, 25), 1_000),
        };
        KindProfile {
            weight,
            cpl_rub,
            cpc_rub,
            ctr_per_mille,
            quality_per_mille,
        }
    }

    /// Campaigns of these kinds run the whole window unless launched late or paused.
    pub(crate) fn always_on(self) -> bool {
        !matches!(self, CampaignKind::Promo)
    }

    /// Search-like campaigns bid on keywords (their links carry `utm_term`).
    pub(crate) fn keywords(self) -> bool {
        matches!(self, CampaignKind::Brand | CampaignKind::Search)
    }
}

/// A campaign of the demo's ad accounts. With more campaigns than entries, the list repeats with
/// numbered names and slugs ("... #2", `..._2`).
pub(crate) struct AdCampaignSpec {
    /// Index into [`AD_ACCOUNTS`].
    pub(crate) account: usize,
    pub(crate) name: &'static str,
    /// The `utm_campaign` its links carry; `None`: links carry the campaign's name (or, on
    /// Yandex Direct, its id through the `{campaign_id}` macro).
    pub(crate) utm_campaign: Option<&'static str>,
    pub(crate) kind: CampaignKind,
    /// (month, day) to (month, day) the campaign runs every year, when it is seasonal.
    pub(crate) season: Option<((u32, u32), (u32, u32))>,
}

const fn ad(
    account: usize,
    name: &'static str,
    utm_campaign: Option<&'static str>,
    kind: CampaignKind,
) -> AdCampaignSpec {
    AdCampaignSpec {
        account,
        name,
        utm_campaign,
        kind,
        season: None,
    }
}

const fn seasonal(
    account: usize,
    name: &'static str,
    utm_campaign: &'static str,
    season: ((u32, u32), (u32, u32)),
) -> AdCampaignSpec {
    AdCampaignSpec {
        account,
        name,
        utm_campaign: Some(utm_campaign),
        kind: CampaignKind::Promo,
        season: Some(season),
    }
}

const YD: usize = 0;
const GA: usize = 1;
const VK: usize = 2;

/// Interleaved across accounts, so the first twenty (the default) give every account a mix.
pub(crate) const AD_CAMPAIGNS: [AdCampaignSpec; 24] = [
    ad(
        YD,
        "Поиск | Бренд",
        Some("yd_brand_search"),
        CampaignKind::Brand,
    ),
    ad(
        GA,
        "Search | Brand | RU",
        Some("gads_brand"),
        CampaignKind::Brand,
    ),
    ad(
        VK,
        "VK | Ретаргетинг посетителей сайта",
        Some("vk_retarget_site"),
        CampaignKind::Retargeting,
    ),
    ad(
        YD,
        "Поиск | CRM для малого бизнеса | Москва",
        Some("yd_search_crm_smb_msk"),
        CampaignKind::Search,
    ),
    ad(
        GA,
        "Search | CRM software | Generic",
        Some("gads_search_crm_generic"),
        CampaignKind::Search,
    ),
    ad(
        VK,
        "VK | Look-alike клиентов",
        Some("vk_lal_clients"),
        CampaignKind::Lookalike,
    ),
    ad(
        YD,
        "РСЯ | Ретаргетинг",
        Some("yd_rsya_retarget"),
        CampaignKind::Retargeting,
    ),
    ad(
        GA,
        "Performance Max | All products",
        None,
        CampaignKind::Smart,
    ),
    ad(
        VK,
        "VK | Вебинар «Аналитика продаж»",
        Some("vk_webinar_sales_analytics"),
        CampaignKind::Promo,
    ),
    ad(
        YD,
        "Поиск | Автоматизация продаж | Регионы",
        Some("yd_search_sales_automation_regions"),
        CampaignKind::Search,
    ),
    ad(
        GA,
        "Display | Remarketing 30d",
        Some("gads_remarketing_30d"),
        CampaignKind::Retargeting,
    ),
    ad(
        VK,
        "VK | Интересы: предприниматели",
        Some("vk_interests_entrepreneurs"),
        CampaignKind::Social,
    ),
    ad(
        YD,
        "Мастер кампаний | Пробный период",
        None,
        CampaignKind::Smart,
    ),
    ad(
        GA,
        "Search | Competitors",
        Some("gads_search_competitors"),
        CampaignKind::Search,
    ),
    seasonal(
        YD,
        "РСЯ | Чёрная пятница",
        "yd_rsya_black_friday",
        ((11, 10), (11, 30)),
    ),
    ad(
        VK,
        "VK | Клипы: обзор продукта",
        Some("vk_clips_product_review"),
        CampaignKind::Social,
    ),
    ad(
        YD,
        "Поиск | Конкуренты",
        Some("yd_search_competitors"),
        CampaignKind::Search,
    ),
    ad(
        GA,
        "YouTube | Product demo",
        Some("gads_youtube_demo"),
        CampaignKind::Network,
    ),
    seasonal(
        VK,
        "VK | Новогодняя акция",
        "vk_new_year_promo",
        ((12, 1), (12, 31)),
    ),
    ad(YD, "Поиск | Интеграция с 1С", None, CampaignKind::Search),
    ad(
        GA,
        "Search | Sales analytics | Regions",
        Some("gads_search_sales_analytics_regions"),
        CampaignKind::Search,
    ),
    ad(
        YD,
        "РСЯ | Look-alike",
        Some("yd_rsya_lookalike"),
        CampaignKind::Lookalike,
    ),
    ad(
        VK,
        "VK | Лид-формы: демо-доступ",
        Some("vk_leadform_demo"),
        CampaignKind::Social,
    ),
    seasonal(
        YD,
        "Поиск | Новогодняя акция",
        "yd_search_new_year",
        ((12, 1), (12, 31)),
    ),
];

/// Keywords in `utm_term` of search campaigns' links.
pub(crate) const KEYWORDS: [&str; 8] = [
    "crm для малого бизнеса",
    "crm система купить",
    "автоматизация отдела продаж",
    "аналитика продаж",
    "crm software",
    "sales analytics tool",
    "интеграция crm с 1с",
    "воронка продаж crm",
];

/// `utm_campaign` values on links nobody set up as a campaign: old mailings, partners, tests.
/// They match no generated campaign, so reports show an unattributed bucket.
pub(crate) const UNKNOWN_UTM_CAMPAIGNS: [(&str, &str, &str); 6] = [
    ("email", "newsletter", "newsletter_december"),
    ("partner", "referral", "partner_webinar"),
    ("telegram", "social", "tg_channel_post"),
    ("yandex", "cpc", "black_friday"),
    ("google", "cpc", "spring_sale_old"),
    ("vk", "cpc", "test_campaign"),
];

/// Marks without a campaign: (`utm_source`, `utm_medium`).
pub(crate) const SOURCE_ONLY_MARKS: [(&str, &str); 3] = [
    ("telegram", "social"),
    ("newsletter", "email"),
    ("partner", "referral"),
];

/// The CRM's lead source of leads without marks.
pub(crate) const UNMARKED_LEAD_SOURCES: [&str; 4] =
    ["Website", "Organic search", "Referral", "Phone call"];

/// What the company sells: name and price range in whole rubles (a yearly plan).
pub(crate) const PRODUCTS: [(&str, u64, u64); 4] = [
    ("Start", 9_900, 19_900),
    ("Business", 24_000, 42_000),
    ("Premium", 48_000, 84_000),
    ("Enterprise", 120_000, 240_000),
];

/// A customer segment: its share of leads, how often its leads buy, and which products.
pub(crate) struct Segment {
    pub(crate) name: &'static str,
    pub(crate) weight: u32,
    /// Leads that end won, per mille, before the campaign's and the owner's factors.
    pub(crate) won_per_mille: u64,
    /// Weights over [`PRODUCTS`].
    pub(crate) products: [u32; 4],
}

/// The last segment never buys: many leads, none won — the anomaly a report should flag.
pub(crate) const SEGMENTS: [Segment; 5] = [
    Segment {
        name: "Small business",
        weight: 38,
        won_per_mille: 190,
        products: [50, 45, 5, 0],
    },
    Segment {
        name: "Mid-market",
        weight: 22,
        won_per_mille: 230,
        products: [5, 45, 45, 5],
    },
    Segment {
        name: "Enterprise",
        weight: 8,
        won_per_mille: 150,
        products: [0, 5, 35, 60],
    },
    Segment {
        name: "Freelancers",
        weight: 14,
        won_per_mille: 150,
        products: [85, 15, 0, 0],
    },
    Segment {
        name: "Students",
        weight: 18,
        won_per_mille: 0,
        products: [90, 10, 0, 0],
    },
];

/// Regions of leads and their weights.
pub(crate) const REGIONS: [&str; 9] = [
    "Moscow",
    "Saint Petersburg",
    "Yekaterinburg",
    "Novosibirsk",
    "Kazan",
    "Nizhny Novgorod",
    "Krasnodar",
    "Samara",
    "Rostov-on-Don",
];
pub(crate) const REGION_WEIGHTS: [u32; 9] = [40, 18, 7, 6, 6, 5, 7, 5, 6];

/// The sales pipeline: (stage id, name, category, sort). amoCRM ids: won is 142 and lost 143 in
/// every pipeline.
pub(crate) const PIPELINE_ID: &str = "7713001";
pub(crate) const PIPELINE_NAME: &str = "Sales";
pub(crate) const OPEN_STAGES: [(&str, &str); 5] = [
    ("61001", "New lead"),
    ("61002", "Qualification"),
    ("61003", "Demo scheduled"),
    ("61004", "Proposal sent"),
    ("61005", "Negotiation"),
];
pub(crate) const WON_STAGE: (&str, &str) = ("142", "Closed won");
pub(crate) const LOST_STAGE: (&str, &str) = ("143", "Closed lost");

/// Why lost leads were lost.
pub(crate) const LOSS_REASONS: [&str; 5] = [
    "No budget",
    "Chose a competitor",
    "No response",
    "Not a fit",
    "Spam or duplicate",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_names_a_known_group_and_has_tags() {
        for t in TOPICS {
            assert!((t.group as usize) < GROUP_NAMES.len(), "{}", t.subject);
            assert!(!t.tags.is_empty(), "{}", t.subject);
            assert!(t.subject.matches("{c}").count() <= 1, "{}", t.subject);
        }
        for g in 0..GROUP_NAMES.len() as u64 {
            assert!(
                TOPICS.iter().any(|t| t.group == g),
                "group {g} has no topic"
            );
        }
    }

    #[test]
    fn names_and_tags_are_plain_ascii() {
        for n in FIRST_NAMES {
            assert!(n.chars().all(|c| c.is_ascii_alphabetic()), "{n}");
        }
        for (m, f) in SURNAMES {
            assert!(m.chars().chain(f.chars()).all(|c| c.is_ascii_alphabetic()));
        }
        let tags = TOPICS
            .iter()
            .flat_map(|t| t.tags.iter())
            .chain(CAMPAIGNS.iter().map(|c| &c.tag));
        for tag in tags {
            assert!(
                tag.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{tag}"
            );
        }
    }

    #[test]
    fn ad_vocabulary_hangs_together() {
        for c in &AD_CAMPAIGNS {
            assert!(c.account < AD_ACCOUNTS.len(), "{}", c.name);
            assert!(
                c.season.is_none() || c.kind == CampaignKind::Promo,
                "{}",
                c.name
            );
        }
        for a in 0..AD_ACCOUNTS.len() {
            assert!(AD_CAMPAIGNS.iter().filter(|c| c.account == a).count() >= 5);
        }
        // Unknown marks name no campaign by slug or name.
        for (_, _, u) in UNKNOWN_UTM_CAMPAIGNS {
            assert!(AD_CAMPAIGNS
                .iter()
                .all(|c| c.utm_campaign != Some(u) && c.name.to_lowercase() != u));
        }
        // Exactly one segment never buys.
        assert_eq!(SEGMENTS.iter().filter(|s| s.won_per_mille == 0).count(), 1);
        assert!(PRODUCTS
            .iter()
            .all(|(_, low, high)| low < high && (high - low) % 100 == 0));
        assert_eq!(REGIONS.len(), REGION_WEIGHTS.len());
        let ids: Vec<&str> = OPEN_STAGES
            .iter()
            .map(|s| s.0)
            .chain([WON_STAGE.0, LOST_STAGE.0])
            .collect();
        assert!(ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id)));
    }

    #[test]
    fn fills_in_the_campaign() {
        let (s, mentioned) = TOPICS[7].subject_for(&CAMPAIGNS[0]);
        assert_eq!(s, "Landing page for the spring campaign");
        assert!(mentioned);
        let (s, mentioned) = TOPICS[0].subject_for(&CAMPAIGNS[0]);
        assert_eq!(s, "Banner sizes for VK Ads");
        assert!(!mentioned);
    }
}
