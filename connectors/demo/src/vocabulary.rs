//! The words the demo is made of: people's names, group names, and what a marketing department
//! asks its help desk about. Changing a list changes the generated data, so tests pin the sizes
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
    fn fills_in_the_campaign() {
        let (s, mentioned) = TOPICS[7].subject_for(&CAMPAIGNS[0]);
        assert_eq!(s, "Landing page for the spring campaign");
        assert!(mentioned);
        let (s, mentioned) = TOPICS[0].subject_for(&CAMPAIGNS[0]);
        assert_eq!(s, "Banner sizes for VK Ads");
        assert!(!mentioned);
    }
}
