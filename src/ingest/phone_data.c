/* The numbering-plan table behind phone.c: for each country, its calling code, trunk prefix and
 * the allowed lengths of its national significant numbers (NSN, the digits after the code).
 *
 * Sources: the ITU-T "List of ITU-T Recommendation E.164 assigned country codes" (Annex to ITU
 * Operational Bulletin) for the calling codes, and the national numbering plans notified to the
 * ITU (the "National Numbering Plans" pages of ITU-T) for trunk prefixes and lengths. Lengths
 * were cross-checked against the numbering metadata of Google's libphonenumber (Debian's
 * python3-phonenumbers 8.12.57). Changes after that were applied by hand: Mexico dropped its
 * trunk prefixes in 2019, Benin moved to 10 digits in 2024, and Canada's newer overlay area
 * codes (257, 354, 382, 428, 683, 879, 942) were added. Belarus's trunk prefix is recorded as
 * "80" because national numbers are written "8 029 ...": the 8 and the 0 are both dropped.
 *
 * The lengths are those of geographic and mobile numbers, which is what a contact list holds;
 * a few plans allow odd lengths only for special ranges (South Africa's short mobile-data
 * numbers, the Netherlands' 11-digit machine-to-machine range), and those are left out so that a
 * truncated ordinary number is not accepted.
 *
 * Rules for editing: keep the rows sorted by calling code, the code's main country first (its
 * prefixes NULL) and the members that share the code after it. A member with prefixes is
 * reported when the NSN begins with one of them. The unit test checks the order and that no
 * length exceeds E.164's 15 digits. */
#include "ingest/phone_data.h"

/* Bit masks of allowed NSN lengths: LEN(9) allows 9 digits, LENS(8, 10) allows 8, 9 and 10. */
#define LEN(n)       (1u << (n))
#define LENS(lo, hi) ((unsigned short)((2u << (hi)) - (1u << (lo))))

/* Canada's area codes: every other +1 number that is not in one of the smaller members'
 * lists below is reported as US. */
#define NANP_CA                                                                                    \
    "204 226 236 249 250 257 263 289 306 343 354 365 367 368 382 403 416 418 428 431 437 438 "     \
    "450 468 474 506 514 519 548 579 581 584 587 600 604 613 622 639 647 672 683 705 709 742 "     \
    "753 778 780 782 807 819 825 867 873 879 902 905 942"

/* clang-format off */
const struct phone_country phone_data_countries[] = {
    {"US", 1, "1", LEN(10), NULL},                  /* United States (main member of the NANP) */
    {"CA", 1, "1", LEN(10), NANP_CA},               /* Canada */
    {"AG", 1, "1", LEN(10), "268"},                 /* Antigua and Barbuda */
    {"AI", 1, "1", LEN(10), "264"},                 /* Anguilla */
    {"AS", 1, "1", LEN(10), "684"},                 /* American Samoa */
    {"BB", 1, "1", LEN(10), "246"},                 /* Barbados */
    {"BM", 1, "1", LEN(10), "441"},                 /* Bermuda */
    {"BS", 1, "1", LEN(10), "242"},                 /* Bahamas */
    {"DM", 1, "1", LEN(10), "767"},                 /* Dominica */
    {"DO", 1, "1", LEN(10), "809 829 849"},         /* Dominican Republic */
    {"GD", 1, "1", LEN(10), "473"},                 /* Grenada */
    {"GU", 1, "1", LEN(10), "671"},                 /* Guam */
    {"JM", 1, "1", LEN(10), "658 876"},             /* Jamaica */
    {"KN", 1, "1", LEN(10), "869"},                 /* Saint Kitts and Nevis */
    {"KY", 1, "1", LEN(10), "345"},                 /* Cayman Islands */
    {"LC", 1, "1", LEN(10), "758"},                 /* Saint Lucia */
    {"MP", 1, "1", LEN(10), "670"},                 /* Northern Mariana Islands */
    {"MS", 1, "1", LEN(10), "664"},                 /* Montserrat */
    {"PR", 1, "1", LEN(10), "787 939"},             /* Puerto Rico */
    {"SX", 1, "1", LEN(10), "721"},                 /* Sint Maarten */
    {"TC", 1, "1", LEN(10), "649"},                 /* Turks and Caicos Islands */
    {"TT", 1, "1", LEN(10), "868"},                 /* Trinidad and Tobago */
    {"VC", 1, "1", LEN(10), "784"},                 /* Saint Vincent and the Grenadines */
    {"VG", 1, "1", LEN(10), "284"},                 /* British Virgin Islands */
    {"VI", 1, "1", LEN(10), "340"},                 /* US Virgin Islands */
    {"RU", 7, "8", LEN(10), NULL},                  /* Russia */
    {"KZ", 7, "8", LEN(10), "33 7"},                /* Kazakhstan */
    {"EG", 20, "0", LENS(8, 10), NULL},             /* Egypt */
    {"ZA", 27, "0", LEN(9), NULL},                  /* South Africa */
    {"GR", 30, "", LEN(10), NULL},                  /* Greece */
    {"NL", 31, "0", LEN(9), NULL},                  /* Netherlands */
    {"BE", 32, "0", LENS(8, 9), NULL},              /* Belgium */
    {"FR", 33, "0", LEN(9), NULL},                  /* France */
    {"ES", 34, "", LEN(9), NULL},                   /* Spain */
    {"HU", 36, "06", LENS(8, 9), NULL},             /* Hungary */
    {"IT", 39, "", LENS(6, 11), NULL},              /* Italy (its numbers keep their leading 0) */
    {"VA", 39, "", LENS(6, 11), "06698"},           /* Vatican City */
    {"RO", 40, "0", LEN(9), NULL},                  /* Romania */
    {"CH", 41, "0", LEN(9), NULL},                  /* Switzerland */
    {"AT", 43, "0", LENS(4, 13), NULL},             /* Austria */
    {"GB", 44, "0", LENS(9, 10), NULL},             /* United Kingdom */
    {"GG", 44, "0", LEN(10), NULL},                 /* Guernsey */
    {"IM", 44, "0", LEN(10), NULL},                 /* Isle of Man */
    {"JE", 44, "0", LEN(10), NULL},                 /* Jersey */
    {"DK", 45, "", LEN(8), NULL},                   /* Denmark */
    {"SE", 46, "0", LENS(7, 9), NULL},              /* Sweden */
    {"NO", 47, "", LEN(8), NULL},                   /* Norway */
    {"SJ", 47, "", LEN(8), "79"},                   /* Svalbard and Jan Mayen */
    {"PL", 48, "", LEN(9), NULL},                   /* Poland */
    {"DE", 49, "0", LENS(5, 13), NULL},             /* Germany */
    {"PE", 51, "0", LENS(8, 9), NULL},              /* Peru */
    {"MX", 52, "", LEN(10), NULL},                  /* Mexico */
    {"CU", 53, "0", LENS(6, 8) | LEN(10), NULL},    /* Cuba */
    {"AR", 54, "0", LENS(10, 11), NULL},            /* Argentina (mobiles as +54 9 ...) */
    {"BR", 55, "0", LENS(10, 11), NULL},            /* Brazil */
    {"CL", 56, "", LEN(9), NULL},                   /* Chile */
    {"CO", 57, "0", LEN(10), NULL},                 /* Colombia */
    {"VE", 58, "0", LEN(10), NULL},                 /* Venezuela */
    {"MY", 60, "0", LENS(8, 10), NULL},             /* Malaysia */
    {"AU", 61, "0", LEN(9), NULL},                  /* Australia */
    {"CC", 61, "0", LEN(9), "89162"},               /* Cocos (Keeling) Islands */
    {"CX", 61, "0", LEN(9), "89164"},               /* Christmas Island */
    {"ID", 62, "0", LENS(7, 12), NULL},             /* Indonesia */
    {"PH", 63, "0", LENS(8, 10), NULL},             /* Philippines */
    {"NZ", 64, "0", LENS(8, 10), NULL},             /* New Zealand */
    {"SG", 65, "", LEN(8), NULL},                   /* Singapore */
    {"TH", 66, "0", LENS(8, 9), NULL},              /* Thailand */
    {"JP", 81, "0", LENS(9, 10), NULL},             /* Japan */
    {"KR", 82, "0", LENS(8, 10), NULL},             /* South Korea */
    {"VN", 84, "0", LENS(9, 10), NULL},             /* Vietnam */
    {"CN", 86, "0", LENS(9, 11), NULL},             /* China */
    {"TR", 90, "0", LEN(10), NULL},                 /* Turkey */
    {"IN", 91, "0", LEN(10), NULL},                 /* India */
    {"PK", 92, "0", LENS(9, 10), NULL},             /* Pakistan */
    {"AF", 93, "0", LEN(9), NULL},                  /* Afghanistan */
    {"LK", 94, "0", LEN(9), NULL},                  /* Sri Lanka */
    {"MM", 95, "0", LENS(6, 10), NULL},             /* Myanmar */
    {"IR", 98, "0", LEN(10), NULL},                 /* Iran */
    {"SS", 211, "0", LEN(9), NULL},                 /* South Sudan */
    {"MA", 212, "0", LEN(9), NULL},                 /* Morocco */
    {"EH", 212, "0", LEN(9), "5288 5289"},          /* Western Sahara */
    {"DZ", 213, "0", LENS(8, 9), NULL},             /* Algeria */
    {"TN", 216, "", LEN(8), NULL},                  /* Tunisia */
    {"LY", 218, "0", LEN(9), NULL},                 /* Libya */
    {"GM", 220, "", LEN(7), NULL},                  /* Gambia */
    {"SN", 221, "", LEN(9), NULL},                  /* Senegal */
    {"MR", 222, "", LEN(8), NULL},                  /* Mauritania */
    {"ML", 223, "", LEN(8), NULL},                  /* Mali */
    {"GN", 224, "", LENS(8, 9), NULL},              /* Guinea */
    {"CI", 225, "", LEN(10), NULL},                 /* Cote d'Ivoire (its numbers start with 0) */
    {"BF", 226, "", LEN(8), NULL},                  /* Burkina Faso */
    {"NE", 227, "", LEN(8), NULL},                  /* Niger */
    {"TG", 228, "", LEN(8), NULL},                  /* Togo */
    {"BJ", 229, "", LEN(8) | LEN(10), NULL},        /* Benin (10 digits since 2024, 8 before) */
    {"MU", 230, "", LENS(7, 8), NULL},              /* Mauritius */
    {"LR", 231, "0", LENS(7, 9), NULL},             /* Liberia */
    {"SL", 232, "0", LEN(8), NULL},                 /* Sierra Leone */
    {"GH", 233, "0", LEN(9), NULL},                 /* Ghana */
    {"NG", 234, "0", LENS(7, 8) | LEN(10), NULL},   /* Nigeria */
    {"TD", 235, "", LEN(8), NULL},                  /* Chad */
    {"CF", 236, "", LEN(8), NULL},                  /* Central African Republic */
    {"CM", 237, "", LEN(9), NULL},                  /* Cameroon */
    {"CV", 238, "", LEN(7), NULL},                  /* Cape Verde */
    {"ST", 239, "", LEN(7), NULL},                  /* Sao Tome and Principe */
    {"GQ", 240, "", LEN(9), NULL},                  /* Equatorial Guinea */
    {"GA", 241, "", LENS(7, 8), NULL},              /* Gabon */
    {"CG", 242, "", LEN(9), NULL},                  /* Republic of the Congo */
    {"CD", 243, "0", LEN(7) | LEN(9), NULL},        /* DR Congo */
    {"AO", 244, "", LEN(9), NULL},                  /* Angola */
    {"GW", 245, "", LEN(9), NULL},                  /* Guinea-Bissau */
    {"IO", 246, "", LEN(7), NULL},                  /* British Indian Ocean Territory */
    {"AC", 247, "", LEN(5), NULL},                  /* Ascension Island */
    {"SC", 248, "", LEN(7), NULL},                  /* Seychelles */
    {"SD", 249, "0", LEN(9), NULL},                 /* Sudan */
    {"RW", 250, "0", LENS(8, 9), NULL},             /* Rwanda */
    {"ET", 251, "0", LEN(9), NULL},                 /* Ethiopia */
    {"SO", 252, "0", LENS(6, 9), NULL},             /* Somalia */
    {"DJ", 253, "", LEN(8), NULL},                  /* Djibouti */
    {"KE", 254, "0", LENS(7, 9), NULL},             /* Kenya */
    {"TZ", 255, "0", LEN(9), NULL},                 /* Tanzania */
    {"UG", 256, "0", LEN(9), NULL},                 /* Uganda */
    {"BI", 257, "", LEN(8), NULL},                  /* Burundi */
    {"MZ", 258, "", LENS(8, 9), NULL},              /* Mozambique */
    {"ZM", 260, "0", LEN(9), NULL},                 /* Zambia */
    {"MG", 261, "0", LEN(9), NULL},                 /* Madagascar */
    {"RE", 262, "0", LEN(9), NULL},                 /* Reunion */
    {"YT", 262, "0", LEN(9), "269 639"},            /* Mayotte */
    {"ZW", 263, "0", LENS(5, 10), NULL},            /* Zimbabwe */
    {"NA", 264, "0", LENS(8, 9), NULL},             /* Namibia */
    {"MW", 265, "0", LEN(7) | LEN(9), NULL},        /* Malawi */
    {"LS", 266, "", LEN(8), NULL},                  /* Lesotho */
    {"BW", 267, "", LENS(7, 8), NULL},              /* Botswana */
    {"SZ", 268, "", LEN(8), NULL},                  /* Eswatini */
    {"KM", 269, "", LEN(7), NULL},                  /* Comoros */
    {"SH", 290, "", LENS(4, 5), NULL},              /* Saint Helena */
    {"TA", 290, "", LEN(4), "8"},                   /* Tristan da Cunha */
    {"ER", 291, "0", LEN(7), NULL},                 /* Eritrea */
    {"AW", 297, "", LEN(7), NULL},                  /* Aruba */
    {"FO", 298, "", LEN(6), NULL},                  /* Faroe Islands */
    {"GL", 299, "", LEN(6), NULL},                  /* Greenland */
    {"GI", 350, "", LEN(8), NULL},                  /* Gibraltar */
    {"PT", 351, "", LEN(9), NULL},                  /* Portugal */
    {"LU", 352, "", LENS(4, 11), NULL},             /* Luxembourg */
    {"IE", 353, "0", LENS(7, 10), NULL},            /* Ireland */
    {"IS", 354, "", LEN(7) | LEN(9), NULL},         /* Iceland */
    {"AL", 355, "0", LENS(8, 9), NULL},             /* Albania */
    {"MT", 356, "", LEN(8), NULL},                  /* Malta */
    {"CY", 357, "", LEN(8), NULL},                  /* Cyprus */
    {"FI", 358, "0", LENS(5, 10), NULL},            /* Finland */
    {"AX", 358, "0", LENS(6, 10), "18"},            /* Aland Islands */
    {"BG", 359, "0", LENS(6, 9), NULL},             /* Bulgaria */
    {"LT", 370, "8", LEN(8), NULL},                 /* Lithuania */
    {"LV", 371, "", LEN(8), NULL},                  /* Latvia */
    {"EE", 372, "", LENS(7, 8), NULL},              /* Estonia */
    {"MD", 373, "0", LEN(8), NULL},                 /* Moldova */
    {"AM", 374, "0", LEN(8), NULL},                 /* Armenia */
    {"BY", 375, "80", LEN(9), NULL},                /* Belarus (written "8 029 ...") */
    {"AD", 376, "", LEN(6) | LEN(9), NULL},         /* Andorra */
    {"MC", 377, "0", LENS(8, 9), NULL},             /* Monaco */
    {"SM", 378, "", LEN(8) | LEN(10), NULL},        /* San Marino */
    {"UA", 380, "0", LEN(9), NULL},                 /* Ukraine */
    {"RS", 381, "0", LENS(7, 12), NULL},            /* Serbia */
    {"ME", 382, "0", LEN(8), NULL},                 /* Montenegro */
    {"XK", 383, "0", LENS(8, 9), NULL},             /* Kosovo */
    {"HR", 385, "0", LENS(8, 9), NULL},             /* Croatia */
    {"SI", 386, "0", LEN(8), NULL},                 /* Slovenia */
    {"BA", 387, "0", LENS(8, 9), NULL},             /* Bosnia and Herzegovina */
    {"MK", 389, "0", LEN(8), NULL},                 /* North Macedonia */
    {"CZ", 420, "", LEN(9), NULL},                  /* Czechia */
    {"SK", 421, "0", LENS(6, 7) | LEN(9), NULL},    /* Slovakia */
    {"LI", 423, "0", LEN(7) | LEN(9), NULL},        /* Liechtenstein */
    {"FK", 500, "", LEN(5), NULL},                  /* Falkland Islands */
    {"BZ", 501, "", LEN(7), NULL},                  /* Belize */
    {"GT", 502, "", LEN(8), NULL},                  /* Guatemala */
    {"SV", 503, "", LEN(8), NULL},                  /* El Salvador */
    {"HN", 504, "", LEN(8), NULL},                  /* Honduras */
    {"NI", 505, "", LEN(8), NULL},                  /* Nicaragua */
    {"CR", 506, "", LEN(8), NULL},                  /* Costa Rica */
    {"PA", 507, "", LENS(7, 8), NULL},              /* Panama */
    {"PM", 508, "0", LEN(6), NULL},                 /* Saint Pierre and Miquelon */
    {"HT", 509, "", LEN(8), NULL},                  /* Haiti */
    {"GP", 590, "0", LEN(9), NULL},                 /* Guadeloupe */
    {"BL", 590, "0", LEN(9), NULL},                 /* Saint Barthelemy */
    {"MF", 590, "0", LEN(9), NULL},                 /* Saint Martin */
    {"BO", 591, "0", LEN(8), NULL},                 /* Bolivia */
    {"GY", 592, "", LEN(7), NULL},                  /* Guyana */
    {"EC", 593, "0", LENS(8, 9), NULL},             /* Ecuador */
    {"GF", 594, "0", LEN(9), NULL},                 /* French Guiana */
    {"PY", 595, "0", LENS(7, 9), NULL},             /* Paraguay */
    {"MQ", 596, "0", LEN(9), NULL},                 /* Martinique */
    {"SR", 597, "", LENS(6, 7), NULL},              /* Suriname */
    {"UY", 598, "0", LEN(8), NULL},                 /* Uruguay */
    {"CW", 599, "", LENS(7, 8), NULL},              /* Curacao */
    {"BQ", 599, "", LEN(7), "3 4 7"},               /* Caribbean Netherlands */
    {"TL", 670, "", LENS(7, 8), NULL},              /* Timor-Leste */
    {"NF", 672, "", LEN(6), NULL},                  /* Norfolk Island */
    {"BN", 673, "", LEN(7), NULL},                  /* Brunei */
    {"NR", 674, "", LEN(7), NULL},                  /* Nauru */
    {"PG", 675, "", LENS(7, 8), NULL},              /* Papua New Guinea */
    {"TO", 676, "", LEN(5) | LEN(7), NULL},         /* Tonga */
    {"SB", 677, "", LEN(5) | LEN(7), NULL},         /* Solomon Islands */
    {"VU", 678, "", LEN(5) | LEN(7), NULL},         /* Vanuatu */
    {"FJ", 679, "", LEN(7), NULL},                  /* Fiji */
    {"PW", 680, "", LEN(7), NULL},                  /* Palau */
    {"WF", 681, "", LEN(6), NULL},                  /* Wallis and Futuna */
    {"CK", 682, "", LEN(5), NULL},                  /* Cook Islands */
    {"NU", 683, "", LEN(4) | LEN(7), NULL},         /* Niue */
    {"WS", 685, "", LENS(5, 7) | LEN(10), NULL},    /* Samoa */
    {"KI", 686, "0", LEN(5) | LEN(8), NULL},        /* Kiribati */
    {"NC", 687, "", LEN(6), NULL},                  /* New Caledonia */
    {"TV", 688, "", LENS(5, 7), NULL},              /* Tuvalu */
    {"PF", 689, "", LEN(8), NULL},                  /* French Polynesia */
    {"TK", 690, "", LENS(4, 7), NULL},              /* Tokelau */
    {"FM", 691, "", LEN(7), NULL},                  /* Micronesia */
    {"MH", 692, "1", LEN(7), NULL},                 /* Marshall Islands */
    {"", 800, "", LEN(8), NULL},                    /* International Freephone (UIFN) */
    {"", 808, "", LEN(8), NULL},                    /* International Shared Cost */
    {"KP", 850, "0", LEN(8) | LEN(10), NULL},       /* North Korea */
    {"HK", 852, "", LEN(8), NULL},                  /* Hong Kong */
    {"MO", 853, "", LEN(8), NULL},                  /* Macau */
    {"KH", 855, "0", LENS(8, 9), NULL},             /* Cambodia */
    {"LA", 856, "0", LEN(8) | LEN(10), NULL},       /* Laos */
    {"", 870, "", LEN(9), NULL},                    /* Inmarsat */
    {"", 878, "", LEN(12), NULL},                   /* Universal Personal Telecommunications */
    {"BD", 880, "0", LENS(6, 10), NULL},            /* Bangladesh */
    {"", 881, "", LEN(9), NULL},                    /* Global Mobile Satellite System */
    {"", 882, "", LENS(7, 12), NULL},               /* International Networks */
    {"", 883, "", LENS(9, 10) | LEN(12), NULL},     /* International Networks */
    {"TW", 886, "0", LENS(8, 9), NULL},             /* Taiwan */
    {"", 888, "", LEN(11), NULL},                   /* UN OCHA disaster relief */
    {"MV", 960, "", LEN(7), NULL},                  /* Maldives */
    {"LB", 961, "0", LENS(7, 8), NULL},             /* Lebanon */
    {"JO", 962, "0", LENS(8, 9), NULL},             /* Jordan */
    {"SY", 963, "0", LENS(8, 9), NULL},             /* Syria */
    {"IQ", 964, "0", LENS(8, 10), NULL},            /* Iraq */
    {"KW", 965, "", LEN(8), NULL},                  /* Kuwait */
    {"SA", 966, "0", LEN(9), NULL},                 /* Saudi Arabia */
    {"YE", 967, "0", LENS(7, 9), NULL},             /* Yemen */
    {"OM", 968, "", LEN(8), NULL},                  /* Oman */
    {"PS", 970, "0", LENS(8, 9), NULL},             /* Palestine */
    {"AE", 971, "0", LENS(8, 9), NULL},             /* United Arab Emirates */
    {"IL", 972, "0", LENS(8, 9), NULL},             /* Israel */
    {"BH", 973, "", LEN(8), NULL},                  /* Bahrain */
    {"QA", 974, "", LEN(8), NULL},                  /* Qatar */
    {"BT", 975, "", LENS(7, 8), NULL},              /* Bhutan */
    {"MN", 976, "0", LENS(8, 10), NULL},            /* Mongolia */
    {"NP", 977, "0", LEN(8) | LEN(10), NULL},       /* Nepal */
    {"", 979, "", LEN(9), NULL},                    /* International Premium Rate */
    {"TJ", 992, "", LEN(9), NULL},                  /* Tajikistan */
    {"TM", 993, "8", LEN(8), NULL},                 /* Turkmenistan */
    {"AZ", 994, "0", LEN(9), NULL},                 /* Azerbaijan */
    {"GE", 995, "0", LEN(9), NULL},                 /* Georgia */
    {"KG", 996, "0", LEN(9), NULL},                 /* Kyrgyzstan */
    {"UZ", 998, "8", LEN(9), NULL},                 /* Uzbekistan */
};
/* clang-format on */

const size_t phone_data_count = sizeof phone_data_countries / sizeof phone_data_countries[0];

/* The two indexes below are derived from the rows above and let phone.c find a row without a
 * search (it looks up every uploaded number). After editing the rows, run the phone unit test:
 * it rebuilds both from the rows and prints the ones to paste here when they differ. */

/* For each calling code c below 1000: 1 + the index of its main row, or 0 for no such code. */
/* clang-format off */
const unsigned short phone_data_code_row[1000] = {
    0, 1, 0, 0, 0, 0, 0, 26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    28, 0, 0, 0, 0, 0, 0, 29, 0, 0, 30, 31, 32, 33, 34, 0, 35, 0, 0, 36,
    38, 39, 0, 40, 41, 45, 46, 47, 49, 50, 0, 51, 52, 53, 54, 55, 56, 57, 58, 0,
    59, 60, 63, 64, 65, 66, 67, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 68, 69, 0, 70, 0, 71, 0, 0, 0, 72, 73, 74, 75, 76, 77, 0, 0, 78, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 79, 80, 82, 0, 0, 83, 0, 84, 0,
    85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104,
    105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 0,
    124, 125, 126, 128, 129, 130, 131, 132, 133, 134, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 135, 137, 0, 0, 0, 0, 0, 138, 139, 140,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 141, 142, 143, 144, 145, 146, 147, 148, 149, 151,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 152, 153, 154, 155, 156, 157, 158, 159, 160, 0,
    161, 162, 163, 164, 0, 165, 166, 167, 0, 168, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    169, 170, 0, 171, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 182, 185, 186, 187, 188, 189, 190, 191, 192, 193,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 195, 0, 196, 197, 198, 199, 200, 201, 202, 203,
    204, 205, 206, 207, 0, 208, 209, 210, 211, 212, 213, 214, 215, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    216, 0, 0, 0, 0, 0, 0, 0, 217, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 218, 0, 219, 220, 0, 221, 222, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 223, 0, 0, 0, 0, 0, 0, 0, 224, 0,
    225, 226, 227, 228, 0, 0, 229, 0, 230, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    231, 232, 233, 234, 235, 236, 237, 238, 239, 0, 240, 241, 242, 243, 244, 245, 246, 247, 0, 248,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 249, 250, 251, 252, 253, 0, 254, 0,
};

/* For each +1 area code 200 to 999 (index: area code - 200): the offset of its country's row
 * from the +1 main row (US, 0), the first member whose prefixes begin with it. */
const unsigned char phone_data_nanp_member[800] = {
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 1,
    1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0, 1, 0, 14, 0, 0, 0, 0,
    0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 10, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 20,
    0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 16, 11, 1, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 19, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 1, 0, 1, 0, 1, 0, 22, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
    1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 21, 13, 0, 0, 0, 1, 0,
    0, 12, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 18, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* clang-format on */
