#!/usr/bin/env python3
"""Generate Haven's built-in demo data set: data/demo-harm-reduction.hsds.json.

About 40 FICTIONAL harm-reduction and mental-health services in and around
Charlottesville, Virginia, as fully nested HSDS 3.0 service objects. Every
organisation, service, phone number, e-mail address and website is invented
(websites use the reserved `.example` domain, phone numbers the fictional
555-01xx range); street names are real. Do not use for real referrals.

Deterministic: the same script always writes byte-identical output.
Standard library only; `--validate SCHEMA` additionally needs `jsonschema`.

    python3 tools/make_demo_data.py [--out PATH] [--validate SCHEMA]
           [--taxonomy-csv PATH] [--samhsa PATH]

Ids are UUID v5: N = uuid5(NAMESPACE_URL, "https://haven.example/demo"),
object id = uuid5(N, "<kind>:<slug>"). Taxonomy ids are
uuid5(NAMESPACE_URL, "urn:hsds-taxonomy:<taxonomy>") and term ids
uuid5(<taxonomy id>, <code>), exactly as in shared/design/api.md and in
data/samhsa-va.hsds.json, so shared terms have the same id and content.
"""
import argparse
import copy
import csv
import io
import json
import math
import os
import sys
import uuid
from urllib.parse import urlparse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "data", "demo-harm-reduction.hsds.json")
DEFAULT_SAMHSA = os.path.join(ROOT, "data", "samhsa-va.hsds.json")
DEFAULT_TAXONOMY_CSV = os.path.join(ROOT, "data", "taxonomy.csv")

NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://haven.example/demo")
FICTIONAL = " (Fictional demo record.)"
CENTRE = (38.0293, -78.4767)  # downtown Charlottesville
MAX_KM = 25.0


def uid(kind, slug):
    return str(uuid.uuid5(NS, "%s:%s" % (kind, slug)))


def taxonomy_id(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:hsds-taxonomy:" + name))


# --- haven-services vocabulary ------------------------------------------------
# code, parent_code, name, description: copied from shared/design/taxonomy.csv
# (other columns dropped). `--taxonomy-csv` checks that this copy is current.
HAVEN_SERVICES_CSV = """\
code,parent_code,name,description
HR,,Harm reduction & overdose prevention,Services that lower the health risks of drug use without requiring people to stop using.
HR01,HR,Syringe services / needle exchange (incl. sharps disposal),Supplies sterile injecting equipment and takes back used needles and other sharps for safe disposal.
HR02,HR,Naloxone distribution & overdose response training,Gives out naloxone and teaches people how to recognise and respond to an opioid overdose.
HR03,HR,"Drug checking (fentanyl/xylazine test strips, lab checking)","Lets people find out what is in their drugs, from test strips to laboratory analysis."
HR04,HR,"Safer-use supplies (smoking/snorting kits, sterile water)","Provides equipment for smoking, snorting or preparing drugs more safely."
HR05,HR,Supervised consumption / overdose prevention site,A place where people can use pre-obtained drugs with trained staff on hand to respond to an overdose.
HR06,HR,"Safer-sex supplies (condoms, lube)","Provides free condoms, lubricant and other supplies that reduce the risk of sexually transmitted infections."
HR07,HR,Managed alcohol / safer drinking programme,Supplies measured amounts of alcohol or safer-drinking support to people with severe alcohol dependence.
IH,,"Infection prevention, testing & wound care","Testing, prevention and treatment for infections that are common among people who use drugs."
IH01,IH,HIV testing & linkage to care,Tests for HIV and helps people who test positive start and stay in care.
IH02,IH,"Viral hepatitis testing, treatment & vaccination (HCV/HBV/HAV)","Screens for, treats and vaccinates against hepatitis A, B and C."
IH03,IH,PrEP / PEP,Prescribes medicine that prevents HIV infection before or soon after a possible exposure.
IH04,IH,STI testing & treatment,Tests for and treats sexually transmitted infections other than HIV.
IH05,IH,Wound & abscess care,"Cleans and dresses wounds, abscesses and other skin injuries, including injection-related ones."
MD,,Medications for substance use disorders,"Prescribing or dispensing medicines that treat opioid, alcohol or other substance use disorders."
MD01,MD,"Buprenorphine (incl. bup/naloxone, XR injectable)","Prescribes or gives buprenorphine, alone, combined with naloxone or as a long-acting injection."
MD02,MD,Methadone / opioid treatment programme,"Opioid treatment programme that dispenses methadone, usually with daily clinic visits at first."
MD03,MD,Naltrexone (oral / extended-release),Prescribes naltrexone tablets or monthly injections for opioid or alcohol use disorder.
MD04,MD,"Alcohol use disorder medications (acamprosate, disulfiram)","Prescribes acamprosate, disulfiram or similar medicines that help people cut down or stop drinking."
WM,,Withdrawal management (detox),Medical support to get through withdrawal from alcohol or other drugs safely.
WM01,WM,Ambulatory / outpatient withdrawal management,Supervised withdrawal while the person keeps living at home and attends visits.
WM02,WM,Residential / inpatient medically managed withdrawal,Withdrawal with round-the-clock medical care in a residential unit or hospital.
TR,,Treatment & rehabilitation,Structured programmes that treat substance use disorders and support recovery.
TR01,TR,Outpatient SUD treatment,Regular treatment sessions at a clinic while the person lives at home.
TR02,TR,Intensive outpatient / day treatment / partial hospitalisation,Several hours of treatment on most days without an overnight stay.
TR03,TR,Residential rehabilitation (short/long term),Live-in treatment programme lasting from a few weeks to many months.
TR04,TR,Hospital inpatient treatment,Substance use treatment delivered on a hospital ward with 24-hour care.
TR05,TR,Recovery residence / sober living,"Shared housing that supports people in recovery, often after more intensive treatment."
CP,,"Counselling, psychotherapy & mental health care","Talking therapies, counselling and mental health treatment."
CP01,CP,Individual psychotherapy / counselling,One-to-one therapy or counselling sessions with a professional.
CP02,CP,Group therapy,Therapy or counselling delivered by a professional to a small group.
CP03,CP,Family / couples therapy,Therapy that involves partners or family members alongside the person.
CP04,CP,"Substance use counselling (MI, brief intervention, CBT)","Counselling aimed at changing substance use, such as motivational interviewing or relapse prevention."
CP05,CP,Psychiatric assessment & medication management,Psychiatric review and prescribing or monitoring of medicines for mental health conditions.
CP06,CP,"Psychosocial & occupational rehabilitation, life coaching","Help to build daily-living, social and work skills and to reach personal goals."
CR,,Crisis services,Immediate help for someone in a mental health or substance use crisis.
CR01,CR,"Crisis / suicide line (phone, text, chat)","A phone, text or chat line answered by trained staff for people in crisis or thinking about suicide."
CR02,CR,Mobile crisis & street outreach team,A team that goes to the person in crisis or meets people where they are on the street.
CR03,CR,Crisis walk-in / stabilisation centre,A place people can walk into during a crisis for assessment and short-term stabilisation.
PS,,Peer & mutual support,Support from people with lived experience and self-help groups.
PS01,PS,Peer support / recovery coaching,One-to-one support from a trained peer worker or recovery coach with lived experience.
PS02,PS,"12-step groups (AA, NA, …)","Mutual-help meetings that follow the twelve-step programme, such as AA or NA."
PS03,PS,SMART Recovery / secular recovery groups,"Mutual-help recovery meetings without a spiritual basis, such as SMART Recovery."
PS04,PS,Mental-health & harm-reduction (drug-user-led) support groups,Groups run by and for people with mental health conditions or people who use drugs.
PS05,PS,Family & friends support groups,Groups for relatives and friends of people who use drugs or alcohol.
HS,,Housing & basic needs,Help with a place to stay and other day-to-day necessities.
HS01,HS,Housing First / permanent supportive housing (no abstinence condition),"Long-term housing with support, offered without requiring people to stop using drugs or alcohol first."
HS02,HS,Emergency shelter & drop-in / day centre,"Short-term shelter or a daytime space offering rest, food and basic facilities."
NV,,"Navigation, assessment & testing","Finding the right help, assessing needs and testing that supports care."
NV01,NV,"Case management & system navigation (benefits, ID recovery)","A worker who coordinates services and helps with benefits, documents and appointments."
NV02,NV,"Drug / toxicology testing (urine, oral fluid)","Tests of urine, saliva, breath or blood for alcohol and other drugs."
NV03,NV,"Screening & assessment (SBIRT, comprehensive SUD/MH assessment)",Structured screening and in-depth assessment of substance use and mental health needs.
"""

HAVEN_SERVICES_DETAIL = {
    # Same content as the taxonomy_detail in data/samhsa-va.hsds.json, so the
    # taxonomy object (one id) is identical in both data sets.
    "id": taxonomy_id("haven-services"),
    "name": "haven-services",
    "description": "Two-level taxonomy of harm reduction, substance use and related services.",
    "version": "1.0.0",
}


def load_services_vocab(text):
    rows = list(csv.DictReader(io.StringIO(text)))
    tid = taxonomy_id("haven-services")
    ids = {r["code"]: str(uuid.uuid5(uuid.UUID(tid), r["code"])) for r in rows}
    terms = {}
    for r in rows:
        t = {"id": ids[r["code"]], "code": r["code"], "name": r["name"],
             "description": r["description"]}
        if r["parent_code"]:
            t["parent_id"] = ids[r["parent_code"]]
        t["taxonomy"] = "haven-services"
        t["taxonomy_detail"] = dict(HAVEN_SERVICES_DETAIL)
        t["language"] = "en"
        t["taxonomy_id"] = tid
        terms[r["code"]] = t
    return rows, terms


SERVICE_ROWS, SERVICE_TERMS = load_services_vocab(HAVEN_SERVICES_CSV)

# --- filter vocabularies (api.md "Haven filters") -----------------------------
FILTER_VOCABS = {
    "haven-cost": ["free", "sliding_scale", "medicaid", "medicare",
                   "private_insurance", "pay_what_you_can"],
    "haven-accessibility": ["wheelchair", "sign_language", "interpreter",
                            "hearing_loop", "braille", "accessible_restroom"],
    "haven-delivery": ["in_person", "virtual", "phone", "outreach"],
    "haven-low-barrier": ["walk_in", "no_id_required", "anonymous",
                          "no_abstinence_required", "no_insurance_required",
                          "no_referral_required"],
    "haven-population": ["people_who_use_drugs", "youth", "women", "lgbtq",
                         "sex_workers", "veterans", "families", "homeless"],
}
SHORT = {"cost": "haven-cost", "acc": "haven-accessibility",
         "delivery": "haven-delivery", "lb": "haven-low-barrier",
         "pop": "haven-population"}


def filter_term(taxonomy, code):
    """Term shaped exactly like the filter-vocabulary terms of samhsa-va.hsds.json."""
    assert code in FILTER_VOCABS[taxonomy], (taxonomy, code)
    tid = taxonomy_id(taxonomy)
    name = code.replace("_", " ")
    return {"id": str(uuid.uuid5(uuid.UUID(tid), code)), "code": code, "name": name,
            "description": "%s%s (%s)." % (name[0].upper(), name[1:], taxonomy),
            "taxonomy": taxonomy, "language": "en", "taxonomy_id": tid}


def attribute(owner_kind, owner_slug, owner_id, term, link_entity="service"):
    tax = term["taxonomy"]
    link_type = "service_type" if tax == "haven-services" else tax[len("haven-"):]
    return {"id": uid("attribute", "%s:%s:%s:%s" % (owner_kind, owner_slug, tax, term["code"])),
            "link_id": owner_id, "taxonomy_term_id": term["id"], "link_type": link_type,
            "link_entity": link_entity, "taxonomy_term": copy.deepcopy(term)}


# --- organisations (all invented) ---------------------------------------------
ORGS = {
    "lanternlight": dict(
        name="Lanternlight Harm Reduction Collective",
        description="Peer-run harm reduction programme: syringe services, naloxone, drug checking and safer-use supplies in Charlottesville and rural Albemarle County.",
        website="https://lanternlight.example", email="hello@lanternlight.example",
        legal_status="Private non-profit"),
    "ridgeline": dict(
        name="Ridgeline Recovery Medicine",
        description="Addiction medicine practice offering buprenorphine, methadone, naltrexone, withdrawal management and outpatient treatment, in person and by telehealth.",
        website="https://ridgeline-recovery.example", email="clinic@ridgeline-recovery.example",
        legal_status="Private non-profit"),
    "starling": dict(
        name="Starling Crisis Network",
        description="Regional mental health and substance use crisis service: 24/7 crisis line, text and chat, mobile crisis team and a walk-in stabilisation centre.",
        website="https://starling-crisis.example", email="info@starling-crisis.example",
        legal_status="Private non-profit"),
    "hearthstone": dict(
        name="Hearthstone Housing Partners",
        description="Low-barrier shelter, day centre, Housing First and recovery housing provider for people experiencing homelessness.",
        website="https://hearthstone-housing.example", email="office@hearthstone-housing.example",
        legal_status="Private non-profit"),
    "juniper": dict(
        name="Juniper Peer Circle",
        description="Recovery community organisation run by people with lived experience: peer recovery coaching and mutual-support meetings of every kind.",
        website="https://juniper-peer.example", email="circle@juniper-peer.example",
        legal_status="Private non-profit"),
    "casa-puente": dict(
        name="Casa Puente Community Health",
        description="Multilingual community health centre for immigrant and refugee families: HIV, hepatitis and STI testing, PrEP, counselling and navigation.",
        website="https://casa-puente.example", email="salud@casa-puente.example",
        legal_status="Private non-profit"),
    "thistle-oak": dict(
        name="Thistle & Oak Counselling Cooperative",
        description="Worker-owned counselling cooperative offering therapy, psychiatry and psychosocial rehabilitation, with sliding-scale fees.",
        website="https://thistle-and-oak.example", email="care@thistle-and-oak.example",
        legal_status="Cooperative"),
    "owlglass": dict(
        name="Owlglass Street Medicine",
        description="Street medicine team bringing wound care, overdose response and harm reduction to people where they are, day and night.",
        website="https://owlglass-street-medicine.example", email="team@owlglass-street-medicine.example",
        legal_status="Private non-profit"),
}


def build_org(slug):
    o = ORGS[slug]
    return {"id": uid("organization", slug), "name": o["name"], "description": o["description"] + FICTIONAL,
            "email": o["email"], "website": o["website"], "legal_status": o["legal_status"]}


# --- locations ----------------------------------------------------------------
# slug: (org, name, address_1, city, postal_code, lat, lon, accessibility codes, extra)
PHYS = {
    "lanternlight-market-street": ("lanternlight", "Lanternlight Market Street Drop-in", "410 East Market Street", "Charlottesville", "22902", 38.0312, -78.4786, ["wheelchair", "accessible_restroom"], {}),
    "lanternlight-cherry-avenue": ("lanternlight", "Lanternlight Cherry Avenue Storefront", "715 Cherry Avenue", "Charlottesville", "22903", 38.0251, -78.4951, ["wheelchair"], {}),
    "water-street-kiosk": ("lanternlight", "Water Street Naloxone Vending Kiosk", "521 East Water Street", "Charlottesville", "22902", 38.0296, -78.4790, ["wheelchair", "braille"],
                           {"description": "Outdoor vending machine under the awning; step-free, with braille labels and an audio button."}),
    "ridgeline-emmet-street": ("ridgeline", "Ridgeline Recovery Medicine - Emmet Street Clinic", "1200 Emmet Street North", "Charlottesville", "22903", 38.0492, -78.5003,
                               ["wheelchair", "hearing_loop", "accessible_restroom"], {"transportation": "CAT bus route 7 stops outside."}),
    "ridgeline-crozet": ("ridgeline", "Ridgeline Recovery Medicine - Crozet Office", "5690 Three Notch'd Road", "Crozet", "22932", 38.0693, -78.6978, ["wheelchair"], {}),
    "starling-rio-road": ("starling", "Starling Crisis Stabilisation Centre", "1450 Rio Road East", "Charlottesville", "22901", 38.0641, -78.4695,
                          ["wheelchair", "accessible_restroom", "hearing_loop"], {"transportation": "Free parking; CAT bus route 11."}),
    "hearthstone-preston-avenue": ("hearthstone", "Hearthstone Preston Avenue Shelter and Day Centre", "308 Preston Avenue", "Charlottesville", "22903", 38.0346, -78.4858,
                                   ["wheelchair", "accessible_restroom"], {}),
    "hearthstone-avon-street": ("hearthstone", "Hearthstone Housing Office", "950 Avon Street", "Charlottesville", "22902", 38.0192, -78.4725, ["wheelchair"], {}),
    "hearthstone-dogwood-house": ("hearthstone", "Dogwood House (women's recovery residence)", "1020 Locust Avenue", "Charlottesville", "22901", 38.0420, -78.4700, [],
                                  {"confidential": True}),
    "casa-puente-fifth-street": ("casa-puente", "Casa Puente Community Health Clinic", "1100 Fifth Street SW", "Charlottesville", "22903", 38.0166, -78.4966,
                                 ["wheelchair", "accessible_restroom"], {}),
    "juniper-main-street": ("juniper", "Juniper Peer Circle Recovery Centre", "218 West Main Street", "Charlottesville", "22902", 38.0316, -78.4836, ["wheelchair"], {}),
    "thistle-oak-jpa": ("thistle-oak", "Thistle & Oak - Jefferson Park Avenue", "1800 Jefferson Park Avenue", "Charlottesville", "22903", 38.0262, -78.5102,
                        ["wheelchair", "hearing_loop", "braille", "accessible_restroom"], {}),
    "thistle-oak-pantops": ("thistle-oak", "Thistle & Oak - Pantops", "1465 Richmond Road", "Charlottesville", "22911", 38.0339, -78.4473, ["wheelchair"], {}),
    "owlglass-harris-street": ("owlglass", "Owlglass Street Medicine Base", "901 Harris Street", "Charlottesville", "22903", 38.0405, -78.4893, ["wheelchair"], {}),
    "owlglass-ops": ("owlglass", "Owlglass Overdose Prevention Site", "214 4th Street NW", "Charlottesville", "22903", 38.0322, -78.4838, ["wheelchair", "accessible_restroom"],
                     {"confidential": True}),
    "earlysville-community-hall": ("lanternlight", "Earlysville pop-up (community hall car park)", "375 Reas Ford Road", "Earlysville", "22936", 38.1549, -78.4668, [], {}),
}
VIRTUAL = {
    "ridgeline-telehealth": ("ridgeline", "Ridgeline Telehealth", "https://ridgeline-recovery.example/telehealth",
                             "Video visits from a phone or computer; audio-only by phone is fine."),
    "juniper-online": ("juniper", "Juniper Peer Circle online meetings", "https://juniper-peer.example/meetings",
                       "Meetings by video call; camera optional, first names or nicknames only."),
}
ACC_TEXT = {
    "wheelchair": "Step-free entrance and wheelchair-accessible rooms.",
    "accessible_restroom": "Accessible restroom.",
    "hearing_loop": "Hearing loop at reception and in group rooms.",
    "braille": "Braille signage and labels.",
}


def build_location(slug):
    if slug in VIRTUAL:
        org, name, url, desc = VIRTUAL[slug]
        return {"id": uid("location", slug), "location_type": "virtual", "url": url,
                "organization_id": uid("organization", org), "name": name, "description": desc + FICTIONAL}
    org, name, addr, city, pc, lat, lon, acc, extra = PHYS[slug]
    lid = uid("location", slug)
    loc = {"id": lid, "location_type": "physical", "organization_id": uid("organization", org), "name": name}
    if "description" in extra:
        loc["description"] = extra["description"]
    if "transportation" in extra:
        loc["transportation"] = extra["transportation"]
    loc["latitude"] = lat
    loc["longitude"] = lon
    loc["addresses"] = [{"id": uid("address", slug), "location_id": lid, "address_1": addr, "city": city,
                         "state_province": "VA", "postal_code": pc, "country": "US", "address_type": "physical"}]
    if acc:
        loc["accessibility"] = [{"id": uid("accessibility", "%s:%s" % (slug, c)), "location_id": lid,
                                 "description": ACC_TEXT[c]} for c in acc]
        loc["attributes"] = [attribute("location", slug, lid, filter_term("haven-accessibility", c), "location")
                             for c in acc]
    if extra.get("confidential"):
        loc["confidential"] = True  # Haven extension field (api.md "Confidential locations")
    return loc


# --- schedules ----------------------------------------------------------------
ALL = "MO,TU,WE,TH,FR,SA,SU"
WKD = "MO,TU,WE,TH,FR"
H24 = (ALL, "00:00", "23:59", "Open 24 hours, every day.")
LANG_NAMES = {"en": "English", "es": "Spanish", "ar": "Arabic", "vi": "Vietnamese", "fr": "French",
              "sw": "Swahili", "ase": "American Sign Language"}

FREE = ("free", "Free", 0, "No charge.")
MEDICAID = ("medicaid", "Medicaid", None, "Medicaid accepted (Virginia Medicaid and managed-care plans).")
MEDICARE = ("medicare", "Medicare", None, "Medicare accepted.")
PRIVATE = ("private_insurance", "Private health insurance", None, "Most private health insurance plans accepted.")
LB_ALL = ["walk_in", "no_id_required", "anonymous", "no_abstinence_required", "no_insurance_required", "no_referral_required"]


def S(slug, org, name, desc, terms, sites, cost, delivery, lb=(), pop=(), acc=(), langs=("en",),
      phones=(), min_age=None, max_age=None, apply=None, elig=None, interp=None):
    return dict(slug=slug, org=org, name=name, desc=desc, terms=list(terms), sites=list(sites), cost=list(cost),
                delivery=list(delivery), lb=list(lb), pop=list(pop), acc=list(acc), langs=list(langs),
                phones=list(phones), min_age=min_age, max_age=max_age, apply=apply, elig=elig, interp=interp)


SERVICES = [
    # ---- Lanternlight Harm Reduction Collective ----
    S("lanternlight-syringe-services", "lanternlight", "Syringe services and sharps disposal",
      "Sterile syringes, cookers, cotton, tourniquets and sharps containers, no questions asked. Bring used needles back for safe disposal at any time the drop-in is open.",
      ["HR01", "HR04"],
      [("lanternlight-market-street", [(WKD, "10:00", "18:00", "Monday to Friday, 10am to 6pm.")]),
       ("lanternlight-cherry-avenue", [("TU,TH", "12:00", "17:00", "Tuesday and Thursday, noon to 5pm.")])],
      [FREE], ["in_person"], LB_ALL, ["people_who_use_drugs", "homeless", "sex_workers"],
      langs=["en", "es"], phones=[("434-555-0110", "Drop-in desk")], min_age=18,
      apply="Walk in during opening hours. No name, ID or paperwork needed.", elig="Adults who inject or use drugs."),
    S("lanternlight-naloxone-training", "lanternlight", "Naloxone kits and overdose response training",
      "Free naloxone (nasal spray and intramuscular) for anyone who asks, plus a 30-minute training on spotting an overdose, rescue breathing and the recovery position. Classes are also held online.",
      ["HR02"],
      [("lanternlight-market-street", [(WKD, "10:00", "18:00", "Kits any time the drop-in is open; group training Wednesday 5:30pm to 7pm."), ])],
      [FREE], ["in_person", "virtual"], LB_ALL, ["people_who_use_drugs", "families"],
      langs=["en", "es", "ar"], phones=[("434-555-0110", "Drop-in desk")],
      apply="Walk in, or book an online class through the website.", elig="Anyone: people who use drugs, friends, family and workplaces."),
    S("lanternlight-drug-checking", "lanternlight", "Drug checking (fentanyl and xylazine test strips, FTIR)",
      "Find out what is in your drugs. Take-home fentanyl and xylazine test strips, and anonymous on-site checking with an FTIR spectrometer; results in about 15 minutes.",
      ["HR03"],
      [("lanternlight-market-street", [("TU,TH", "13:00", "17:00", "Spectrometer checking Tuesday and Thursday, 1pm to 5pm; strips whenever the drop-in is open.")])],
      [FREE], ["in_person"], LB_ALL, ["people_who_use_drugs"],
      langs=["en", "es"], phones=[("434-555-0111", "Drug checking line")],
      apply="Bring a tiny sample (a match-head is enough). Nothing is kept and no names are taken."),
    S("lanternlight-safer-sex", "lanternlight", "Safer-sex supplies",
      "Free condoms, internal condoms, lubricant and dental dams, with discreet grab-bags at the door.",
      ["HR06"],
      [("lanternlight-market-street", [(WKD, "10:00", "18:00", "Monday to Friday, 10am to 6pm.")])],
      [FREE], ["in_person"], LB_ALL, ["sex_workers", "lgbtq", "people_who_use_drugs"],
      langs=["en", "es"]),
    S("lanternlight-earlysville-popup", "lanternlight", "Sunday harm reduction pop-up, Earlysville",
      "A van from the Collective parks at the community hall every Sunday afternoon with syringes, safer-smoking kits, naloxone and test strips for people in northern Albemarle County.",
      ["HR01", "HR02", "HR04"],
      [("earlysville-community-hall", [("SU", "13:00", "16:00", "Sundays only, 1pm to 4pm.")])],
      [FREE], ["outreach", "in_person"], LB_ALL, ["people_who_use_drugs"],
      phones=[("434-555-0112", "Pop-up van (text or call)", "cell")], min_age=18),
    S("lanternlight-womens-evening", "lanternlight", "Women's and sex workers' evening drop-in",
      "A women-only evening space (trans and non-binary people welcome) with safer-use and safer-sex supplies, a hot meal, and peer workers who have been there.",
      ["HR04", "HR06", "PS04"],
      [("lanternlight-cherry-avenue", [("WE", "18:00", "21:00", "Wednesday evenings, 6pm to 9pm.")])],
      [FREE], ["in_person"], ["walk_in", "no_id_required", "anonymous", "no_abstinence_required", "no_insurance_required", "no_referral_required"],
      ["women", "sex_workers", "lgbtq", "people_who_use_drugs"],
      langs=["en", "es", "sw"], min_age=18),
    S("lanternlight-water-street-vending", "lanternlight", "24/7 naloxone vending machine, Water Street",
      "A free vending machine stocked with naloxone, fentanyl test strips, sterile syringe packs and a sharps return box. Screen in English, Spanish, Arabic and Vietnamese; no card or code needed.",
      ["HR02", "HR03", "HR01"],
      [("water-street-kiosk", [H24])],
      [FREE], ["in_person"], LB_ALL, ["people_who_use_drugs", "homeless"],
      langs=["en", "es", "ar", "vi"], phones=[("434-555-0113", "Report an empty or broken machine")]),
    S("lanternlight-rio-road-vending", "lanternlight", "24/7 naloxone vending machine, Rio Road",
      "A free naloxone and test-strip vending machine in the lobby of the crisis stabilisation centre, stocked by the Collective. Open around the clock.",
      ["HR02", "HR03"],
      [("starling-rio-road", [H24])],
      [FREE], ["in_person"], LB_ALL, ["people_who_use_drugs"],
      langs=["en", "es"], phones=[("434-555-0113", "Report an empty or broken machine")]),

    # ---- Ridgeline Recovery Medicine ----
    S("ridgeline-bupe-bridge", "ridgeline", "Same-day buprenorphine bridge clinic",
      "Walk in and leave the same day with a buprenorphine prescription, whether or not you are still using. A short assessment, then a bridge script until a regular prescriber is found.",
      ["MD01", "NV03"],
      [("ridgeline-emmet-street", [(WKD, "08:00", "16:00", "Walk-in Monday to Friday, 8am to 4pm.")])],
      [FREE, MEDICAID, PRIVATE], ["in_person"],
      ["walk_in", "no_abstinence_required", "no_insurance_required", "no_referral_required"],
      ["people_who_use_drugs", "homeless"], langs=["en", "es"],
      phones=[("434-555-0120", "Clinic front desk")], min_age=16,
      apply="Walk in. Bring ID if you have it, but you will be seen without one.",
      elig="People aged 16 and over with opioid use disorder; under 18s need a parent or guardian."),
    S("ridgeline-methadone", "ridgeline", "Methadone opioid treatment programme",
      "Opioid treatment programme with daily observed methadone dosing, counselling and take-home doses as stability grows. Continued use is not a reason for discharge.",
      ["MD02", "NV02"],
      [("ridgeline-emmet-street", [(WKD, "05:30", "13:00", "Dosing Monday to Friday, 5:30am to 1pm."),
                                   ("SA", "07:00", "10:00", "Dosing Saturday, 7am to 10am.")])],
      [MEDICAID, MEDICARE, PRIVATE, (None, "Self-pay daily dosing", 10, "USD 10 per day including dosing and counselling."),
       ("sliding_scale", "Sliding fee scale", 10, "Self-pay reduced to as little as USD 10 per week on low incomes.")],
      ["in_person"], ["no_abstinence_required", "no_referral_required"], ["people_who_use_drugs", "veterans"],
      langs=["en", "es"], phones=[("434-555-0121", "Intake")], min_age=18,
      apply="Call intake or come in before 10am on a weekday for same-week admission.",
      elig="Adults with opioid use disorder."),
    S("ridgeline-naltrexone-aud", "ridgeline", "Naltrexone and alcohol use disorder medications",
      "Oral and monthly injectable naltrexone for alcohol or opioid use disorder, plus acamprosate and disulfiram, with goals set by you: cutting down counts.",
      ["MD03", "MD04"],
      [("ridgeline-emmet-street", [("TU,TH", "09:00", "17:00", "Tuesday and Thursday, 9am to 5pm.")]),
       ("ridgeline-crozet", [("WE", "09:00", "15:00", "Wednesday, 9am to 3pm.")])],
      [MEDICAID, MEDICARE, PRIVATE, (None, "Self-pay visit", 40, "USD 40 per visit without insurance; medication extra.")],
      ["in_person"], ["no_abstinence_required"], ["veterans"],
      phones=[("434-555-0121", "Intake")], min_age=18, apply="Call intake for an appointment."),
    S("ridgeline-outpatient-withdrawal", "ridgeline", "Outpatient withdrawal management",
      "Medically supervised withdrawal from alcohol, opioids or benzodiazepines while you live at home, with daily check-ins for the first week.",
      ["WM01", "NV02"],
      [("ridgeline-emmet-street", [(WKD, "08:00", "12:00", "Check-ins Monday to Friday, 8am to noon.")])],
      [MEDICAID, PRIVATE, (None, "Self-pay programme", 40, "USD 40 per visit without insurance.")],
      ["in_person"], ["no_referral_required"], ["people_who_use_drugs"],
      phones=[("434-555-0121", "Intake")], min_age=18),
    S("ridgeline-iop", "ridgeline", "Intensive outpatient programme",
      "Three-hour group and individual sessions four mornings a week for six to eight weeks, then step-down outpatient counselling. Substance use counselling uses motivational interviewing and CBT.",
      ["TR02", "TR01", "CP02", "CP04"],
      [("ridgeline-emmet-street", [("MO,TU,WE,TH", "09:00", "12:00", "Monday to Thursday, 9am to noon.")])],
      [MEDICAID, MEDICARE, PRIVATE, ("sliding_scale", "Sliding fee scale", 20, "From USD 20 per session depending on income.")],
      ["in_person"], [], ["people_who_use_drugs"], langs=["en", "es"],
      phones=[("434-555-0121", "Intake")], min_age=18),
    S("ridgeline-residential", "ridgeline", "Residential rehabilitation programme",
      "A 24-bed residential programme in Crozet, from 28 days to six months, combining therapy, medication for addiction (buprenorphine and methadone patients welcome) and planning for housing and work afterwards.",
      ["TR03", "CP02", "CP06"],
      [("ridgeline-crozet", [])],
      [MEDICAID, PRIVATE, ("sliding_scale", "Sliding fee scale", 40, "From USD 40 per day for people without insurance.")],
      ["in_person"], [], ["veterans", "families"],
      phones=[("434-555-0123", "Residential admissions")], min_age=18,
      apply="Call residential admissions for a phone assessment; a referral is not needed."),
    S("ridgeline-telehealth-bupe", "ridgeline", "Telehealth buprenorphine",
      "Start or continue buprenorphine by video or phone visit, with prescriptions sent to your local pharmacy. Pregnant and parenting patients are prioritised.",
      ["MD01"],
      [("ridgeline-telehealth", [(WKD, "08:00", "20:00", "Video and phone visits Monday to Friday, 8am to 8pm.")])],
      [MEDICAID, PRIVATE, (None, "Self-pay visit", 20, "USD 20 per video or phone visit without insurance.")],
      ["virtual", "phone"], ["no_abstinence_required", "no_referral_required"], ["people_who_use_drugs", "women"],
      langs=["en", "es", "vi"], phones=[("434-555-0122", "Telehealth scheduling")], min_age=18,
      apply="Book online or call; you need a phone with a camera or just a phone line.", interp="Vietnamese through a video interpreter."),

    # ---- Starling Crisis Network ----
    S("starling-crisis-line", "starling", "Starling 24/7 crisis and suicide line",
      "Call any time, day or night, if you are in crisis, thinking about suicide or worried about someone. Trained counsellors answer, with interpreters in over 200 languages and an ASL videophone.",
      ["CR01"],
      [("starling-rio-road", [H24])],
      [FREE], ["phone"], ["anonymous", "no_id_required", "no_insurance_required", "no_referral_required"],
      ["youth", "veterans", "lgbtq"], acc=["interpreter", "sign_language"],
      langs=["en", "es", "ar", "vi", "fr", "sw", "ase"],
      phones=[("434-555-0100", "24/7 crisis line"), ("434-555-0101", "ASL videophone", "video")],
      apply="Just call. You do not have to give your name.",
      interp="Telephone interpreters for any language; ASL by videophone."),
    S("starling-text-chat", "starling", "Starling crisis text and chat",
      "Text or chat with a trained crisis counsellor, 24 hours a day, 7 days a week, if talking on the phone is hard or unsafe.",
      ["CR01"], [],
      [FREE], ["virtual"], ["anonymous", "no_id_required", "no_insurance_required", "no_referral_required"],
      ["youth", "lgbtq"], langs=["en", "es"],
      phones=[("434-555-0102", "Crisis text line", "text")],
      apply="Text HELLO to the number, or open the chat on the website."),
    S("starling-mobile-crisis", "starling", "Mobile crisis team",
      "A counsellor and a peer worker come to you, at home, at school or on the street, to help de-escalate a crisis and connect you to care, without police unless there is immediate danger.",
      ["CR02"],
      [("starling-rio-road", [(ALL, "07:00", "23:00", "Dispatched every day, 7am to 11pm.")])],
      [FREE], ["outreach", "phone"], ["no_id_required", "no_insurance_required", "no_referral_required"],
      ["homeless", "youth", "veterans"], acc=["interpreter"], langs=["en", "es"],
      phones=[("434-555-0100", "Request through the 24/7 crisis line")], interp="Telephone interpreters on every call-out."),
    S("starling-stabilisation-centre", "starling", "Crisis walk-in and stabilisation centre",
      "Walk in at any hour for a mental health or substance use crisis. Assessment, a calm place to stay for up to 23 hours, and a plan for what comes next.",
      ["CR03", "NV03"],
      [("starling-rio-road", [H24])],
      [FREE, MEDICAID, PRIVATE], ["in_person"],
      ["walk_in", "no_id_required", "no_insurance_required", "no_referral_required", "no_abstinence_required"],
      ["homeless", "people_who_use_drugs", "veterans"], acc=["sign_language", "interpreter"],
      langs=["en", "es", "ase"], phones=[("434-555-0103", "Centre front desk")],
      apply="Walk in, be brought by the mobile team, or be dropped off by police or EMS.",
      interp="ASL interpreters on call; telephone interpreters for other languages."),
    S("starling-withdrawal-unit", "starling", "Medically managed withdrawal unit",
      "A 16-bed residential unit with 24-hour nursing for safe withdrawal from alcohol and other drugs, usually three to seven days, with a start on medication before you leave.",
      ["WM02"],
      [("starling-rio-road", [])],
      [MEDICAID, MEDICARE, PRIVATE, ("sliding_scale", "Sliding fee scale", 40, "From USD 40 per day for people without insurance.")],
      ["in_person"], ["no_referral_required"], ["people_who_use_drugs"],
      phones=[("434-555-0104", "Admissions")], min_age=18,
      apply="Call admissions or come to the stabilisation centre for an assessment; beds depend on availability."),
    S("starling-inpatient-unit", "starling", "Inpatient addiction and dual-diagnosis unit",
      "Short hospital-level inpatient treatment for people with both substance use and mental health needs who cannot be safely treated as outpatients.",
      ["TR04", "CP05"],
      [("starling-rio-road", [])],
      [MEDICAID, MEDICARE, PRIVATE],
      ["in_person"], [], ["people_who_use_drugs"],
      phones=[("434-555-0104", "Admissions")], min_age=18, apply="By referral from a clinician or the stabilisation centre."),

    # ---- Hearthstone Housing Partners ----
    S("hearthstone-night-shelter", "hearthstone", "Low-barrier night shelter",
      "Overnight beds with no sobriety test, pets and partners welcome, lockers, showers and breakfast. Doors open at 8pm and guests leave by 6am.",
      ["HS02"],
      [("hearthstone-preston-avenue", [(ALL, "20:00", "06:00", "Every night, 8pm to 6am the next morning.")])],
      [FREE], ["in_person"], LB_ALL, ["homeless", "people_who_use_drugs", "lgbtq"],
      langs=["en", "es"], phones=[("434-555-0130", "Shelter desk (evenings)")], min_age=18,
      apply="Come to the door after 8pm; beds are first come, first served."),
    S("hearthstone-day-centre", "hearthstone", "Day centre and drop-in",
      "Daytime space with coffee, lunch, showers, laundry, mail service, phone charging and case managers who help with benefits and replacing lost ID.",
      ["HS02", "NV01"],
      [("hearthstone-preston-avenue", [(WKD, "07:00", "15:00", "Monday to Friday, 7am to 3pm."),
                                       ("SA,SU", "09:00", "13:00", "Saturday and Sunday, 9am to 1pm.")])],
      [FREE], ["in_person"], LB_ALL, ["homeless", "veterans"],
      langs=["en", "es"], phones=[("434-555-0131", "Day centre")]),
    S("hearthstone-housing-first", "hearthstone", "Housing First permanent supportive housing",
      "Scattered-site apartments with a lease in your own name and a support worker, offered with no requirement to stop using drugs or alcohol or to complete treatment first.",
      ["HS01", "NV01"],
      [("hearthstone-avon-street", [(WKD, "09:00", "17:00", "Housing office, Monday to Friday, 9am to 5pm.")])],
      [("free", "No programme fee", 0, "No fee to apply or take part; tenants pay 30% of their income as rent.")],
      ["in_person"], ["no_abstinence_required", "no_insurance_required", "no_id_required"],
      ["homeless", "veterans", "families"], langs=["en", "es"],
      phones=[("434-555-0132", "Housing office")], min_age=18,
      apply="Ask any case manager or the day centre for a coordinated-entry assessment.",
      elig="People experiencing chronic homelessness in Charlottesville and Albemarle County."),
    S("hearthstone-dogwood-house", "hearthstone", "Dogwood House women's recovery residence",
      "A shared home for up to eight women in recovery, with house meetings, a resident peer mentor and help finding work. Residents on buprenorphine or methadone are welcome.",
      ["TR05"],
      [("hearthstone-dogwood-house", [])],
      [(None, "Weekly house fee", 120, "USD 120 per week including utilities; first two weeks free.")],
      ["in_person"], ["no_referral_required"], ["women"],
      phones=[("434-555-0133", "Admissions")], min_age=18,
      apply="Call admissions for an interview; the address is shared after acceptance.", elig="Women aged 18 and over in recovery."),
    S("hearthstone-family-navigation", "hearthstone", "Family case management and ID recovery",
      "Case managers help families with children find housing, apply for SNAP, Medicaid and TANF, and replace birth certificates, Social Security cards and IDs.",
      ["NV01"],
      [("hearthstone-avon-street", [(WKD, "09:00", "17:00", "Monday to Friday, 9am to 5pm.")])],
      [FREE], ["in_person", "phone"], ["no_id_required", "no_insurance_required", "no_referral_required"],
      ["families", "homeless"], acc=["interpreter"], langs=["en", "es", "ar", "sw"],
      phones=[("434-555-0132", "Housing office")], interp="Arabic and Swahili-speaking case managers; telephone interpreters for other languages."),

    # ---- Juniper Peer Circle ----
    S("juniper-recovery-coaching", "juniper", "Peer recovery coaching",
      "One-to-one support from a trained recovery coach with lived experience, on whatever recovery means to you, including moderation and medication-assisted recovery.",
      ["PS01"],
      [("juniper-main-street", [(WKD, "10:00", "18:00", "Monday to Friday, 10am to 6pm.")])],
      [("pay_what_you_can", "Pay what you can", 0, "Pay what you can; nobody is turned away for lack of money.")],
      ["in_person", "phone"], ["walk_in", "no_abstinence_required", "no_insurance_required", "no_referral_required"],
      ["people_who_use_drugs", "veterans", "lgbtq"], langs=["en", "es"],
      phones=[("434-555-0140", "Recovery centre")]),
    S("juniper-smart-online", "juniper", "SMART Recovery online meetings",
      "Secular, science-based self-help meetings by video call using SMART Recovery tools. Drop in to any meeting; no sign-up.",
      ["PS03"],
      [("juniper-online", [("MO,WE", "19:00", "20:30", "Monday and Wednesday, 7pm to 8:30pm."),
                           ("SA", "10:00", "11:00", "Saturday, 10am to 11am.")])],
      [FREE], ["virtual"], ["anonymous", "no_id_required", "no_insurance_required", "no_referral_required"],
      ["people_who_use_drugs"], min_age=18),
    S("juniper-twelve-step", "juniper", "Twelve-step meetings (AA and NA)",
      "Open Alcoholics Anonymous and Narcotics Anonymous meetings hosted at the recovery centre every day at noon and 7pm.",
      ["PS02"],
      [("juniper-main-street", [(ALL, "12:00", "13:00", "Every day at noon."), (ALL, "19:00", "20:00", "Every day at 7pm.")])],
      [FREE], ["in_person"], ["walk_in", "anonymous", "no_id_required", "no_insurance_required", "no_referral_required"],
      ["people_who_use_drugs"]),
    S("juniper-drug-users-union", "juniper", "Piedmont drug users' union meeting",
      "A group run by and for people who use drugs: mutual support, bad-batch alerts, and organising for safer supply and dignity in care.",
      ["PS04"],
      [("juniper-main-street", [("TH", "18:00", "20:00", "Thursday, 6pm to 8pm.")])],
      [FREE], ["in_person"], LB_ALL, ["people_who_use_drugs", "sex_workers"], min_age=18),
    S("juniper-family-group", "juniper", "Family and friends support group (weekends)",
      "For parents, partners and friends of someone who uses drugs or alcohol: share, learn about harm reduction and naloxone, and look after yourself. In person on Saturday, online on Sunday.",
      ["PS05"],
      [("juniper-main-street", [("SA", "10:00", "12:00", "Saturday, 10am to noon.")]),
       ("juniper-online", [("SU", "19:00", "20:00", "Sunday, 7pm to 8pm by video.")])],
      [FREE], ["in_person", "virtual"], ["walk_in", "anonymous", "no_insurance_required", "no_referral_required"],
      ["families"], langs=["en", "es"]),
    S("juniper-queer-youth-peer", "juniper", "Queer and trans youth peer support (weekends)",
      "A peer-led group for LGBTQ+ young people aged 14 to 24 dealing with anxiety, depression or substance use. Snacks, games and no pressure to talk.",
      ["PS04", "CP06"],
      [("juniper-main-street", [("SU", "14:00", "16:00", "Sunday, 2pm to 4pm.")])],
      [FREE], ["in_person"], ["walk_in", "anonymous", "no_id_required", "no_insurance_required", "no_referral_required"],
      ["lgbtq", "youth"], min_age=14, max_age=24),

    # ---- Casa Puente Community Health ----
    S("casa-puente-hiv-hepatitis", "casa-puente", "HIV and hepatitis testing, treatment and vaccination",
      "Rapid HIV and hepatitis C tests with results in 20 minutes, hepatitis A and B vaccination, and a navigator who walks you into treatment if a test is positive.",
      ["IH01", "IH02"],
      [("casa-puente-fifth-street", [(WKD, "09:00", "17:00", "Monday to Friday, 9am to 5pm."),
                                     ("SA", "09:00", "12:00", "Saturday, 9am to noon.")])],
      [FREE], ["in_person"], LB_ALL, ["people_who_use_drugs", "lgbtq", "sex_workers"],
      acc=["interpreter"], langs=["en", "es", "ar", "fr", "sw", "vi"],
      phones=[("434-555-0150", "Clinic reception")], interp="Staff speak Spanish, Arabic, French and Swahili; telephone interpreters for other languages."),
    S("casa-puente-prep-pep", "casa-puente", "PrEP and PEP clinic",
      "Same-day PrEP starts and emergency PEP within 72 hours of a possible HIV exposure, with help getting medication at low or no cost.",
      ["IH03"],
      [("casa-puente-fifth-street", [("MO,WE,FR", "12:00", "19:00", "Monday, Wednesday and Friday, noon to 7pm.")])],
      [MEDICAID, PRIVATE, (None, "Clinic visit", 5, "USD 5 per visit without insurance."),
       ("sliding_scale", "Sliding fee scale", 5, "Medication assistance based on income.")],
      ["in_person"], ["walk_in", "no_referral_required"], ["lgbtq", "sex_workers", "women"],
      acc=["interpreter"], langs=["en", "es", "fr"], phones=[("434-555-0150", "Clinic reception")],
      interp="Spanish and French-speaking clinicians; telephone interpreters for other languages."),
    S("casa-puente-sti-clinic", "casa-puente", "STI testing and treatment",
      "Testing and same-day treatment for chlamydia, gonorrhoea and syphilis, free for under-25s, with free condoms and lube at checkout.",
      ["IH04", "HR06"],
      [("casa-puente-fifth-street", [("TU,TH", "13:00", "19:00", "Tuesday and Thursday, 1pm to 7pm.")])],
      [("free", "Free for under-25s", 0, "No charge for people aged 24 and under."),
       (None, "Clinic visit", 10, "USD 10 per visit for people aged 25 and over."), MEDICAID],
      ["in_person"], ["walk_in", "no_referral_required", "no_insurance_required"], ["youth", "lgbtq"],
      langs=["en", "es"], phones=[("434-555-0150", "Clinic reception")], min_age=13),
    S("casa-puente-counselling", "casa-puente", "Bilingual counselling for individuals and families",
      "Counselling in Spanish and Arabic with therapists who understand migration, trauma and family separation. Individual, couple and family sessions.",
      ["CP01", "CP03"],
      [("casa-puente-fifth-street", [(WKD, "10:00", "18:00", "By appointment, Monday to Friday, 10am to 6pm.")])],
      [MEDICAID, ("sliding_scale", "Sliding fee scale", 20, "From USD 20 per session depending on income.")],
      ["in_person", "virtual"], ["no_insurance_required", "no_id_required"], ["families", "women"],
      acc=["interpreter"], langs=["en", "es", "ar"], phones=[("434-555-0151", "Counselling appointments")],
      interp="Sessions held directly in Spanish or Arabic."),

    # ---- Thistle & Oak Counselling Cooperative ----
    S("thistle-oak-individual-therapy", "thistle-oak", "Individual therapy",
      "Weekly one-to-one therapy for depression, anxiety, trauma and substance use, including therapists fluent in American Sign Language and French.",
      ["CP01", "CP04"],
      [("thistle-oak-jpa", [(WKD, "09:00", "19:00", "By appointment, Monday to Friday, 9am to 7pm.")])],
      [MEDICAID, MEDICARE, PRIVATE, ("sliding_scale", "Sliding fee scale", 40, "USD 40 to 120 per session depending on income.")],
      ["in_person", "virtual"], [], [], acc=["sign_language"], langs=["en", "ase", "fr"],
      phones=[("434-555-0160", "Appointments"), ("434-555-0161", "ASL videophone", "video")], min_age=16,
      interp="Therapy directly in ASL; no interpreter needed."),
    S("thistle-oak-psychiatry", "thistle-oak", "Psychiatric assessment and medication management",
      "Comprehensive psychiatric assessment and follow-up for medication, including for people with co-occurring substance use.",
      ["CP05", "NV03"],
      [("thistle-oak-jpa", [("MO,TU,TH", "09:00", "17:00", "Monday, Tuesday and Thursday, 9am to 5pm.")]),
       ("thistle-oak-pantops", [("WE", "09:00", "17:00", "Wednesday, 9am to 5pm.")])],
      [MEDICAID, MEDICARE, PRIVATE],
      ["in_person", "virtual"], [], [], min_age=18, phones=[("434-555-0160", "Appointments")]),
    S("thistle-oak-groups", "thistle-oak", "Group, couples and family therapy",
      "Therapist-led groups (anxiety, grief, LGBTQ+ affirming), plus couples and family sessions. Groups run on a pay-what-you-can basis.",
      ["CP02", "CP03"],
      [("thistle-oak-pantops", [("MO,TU,WE,TH", "17:30", "20:30", "Evenings, Monday to Thursday, 5:30pm to 8:30pm.")])],
      [("pay_what_you_can", "Pay what you can (groups)", 0, "Groups are pay what you can; suggested USD 10."),
       ("sliding_scale", "Sliding fee scale (couples and family)", 20, "From USD 20 per session depending on income."), PRIVATE],
      ["in_person"], ["no_referral_required", "no_insurance_required"], ["families", "lgbtq"],
      phones=[("434-555-0160", "Appointments")]),
    S("thistle-oak-youth-dropin", "thistle-oak", "Weekend youth counselling drop-in",
      "Free walk-in counselling for young people aged 12 to 21 on Saturdays and Sundays: talk about stress, school, family, drugs or alcohol. Parents are not told unless you are in danger.",
      ["CP01", "CP04"],
      [("thistle-oak-jpa", [("SA,SU", "11:00", "15:00", "Saturday and Sunday, 11am to 3pm.")])],
      [FREE], ["in_person"], ["walk_in", "anonymous", "no_insurance_required", "no_referral_required", "no_id_required"],
      ["youth", "lgbtq"], min_age=12, max_age=21, phones=[("434-555-0162", "Youth line (weekends)")]),
    S("thistle-oak-rehab-coaching", "thistle-oak", "Psychosocial rehabilitation and life coaching",
      "Skills groups and one-to-one coaching for daily living, work and study goals, for adults living with serious mental illness or in recovery.",
      ["CP06"],
      [("thistle-oak-pantops", [("MO,TU,WE,TH", "10:00", "14:00", "Monday to Thursday, 10am to 2pm.")])],
      [MEDICAID, ("pay_what_you_can", "Pay what you can", 0, "Pay what you can; suggested USD 10 per session.")],
      ["in_person"], ["no_referral_required"], ["veterans"], min_age=18, phones=[("434-555-0160", "Appointments")]),

    # ---- Owlglass Street Medicine ----
    S("owlglass-night-outreach", "owlglass", "Night street outreach van",
      "A nurse and an outreach worker drive a wheelchair-accessible van to camps and street corners late at night with naloxone, syringes, wound care, water and blankets, and respond to overdoses.",
      ["CR02", "HR01", "HR02", "IH05"],
      [("owlglass-harris-street", [("TH,FR,SA", "21:00", "02:00", "Thursday to Saturday nights, 9pm to 2am.")])],
      [FREE], ["outreach"], LB_ALL, ["homeless", "people_who_use_drugs", "sex_workers"],
      acc=["wheelchair"], langs=["en", "es"],
      phones=[("434-555-0170", "Outreach van (text or call at night)", "cell")]),
    S("owlglass-wound-care", "owlglass", "Wound and abscess care clinic",
      "Nurse-led care for abscesses, injection wounds, xylazine wounds and burns, with dressings to take away. No judgement, no police.",
      ["IH05", "HR04"],
      [("owlglass-harris-street", [("MO,WE,FR", "13:00", "17:00", "Monday, Wednesday and Friday, 1pm to 5pm.")])],
      [FREE], ["in_person"], LB_ALL, ["people_who_use_drugs", "homeless"],
      langs=["en", "es"], phones=[("434-555-0171", "Clinic")]),
    S("owlglass-managed-alcohol", "owlglass", "Managed alcohol programme",
      "For shelter guests with severe alcohol dependence: measured doses of alcohol through the day, with meals and nursing, to prevent withdrawal seizures and street drinking.",
      ["HR07"],
      [("hearthstone-preston-avenue", [])],
      [FREE], ["in_person"], ["no_abstinence_required", "no_insurance_required", "no_id_required"],
      ["homeless"], min_age=21, phones=[("434-555-0171", "Clinic")],
      apply="By assessment with an Owlglass nurse at the shelter.", elig="Adults aged 21 and over staying at the Hearthstone shelter."),
    S("owlglass-overdose-prevention-site", "owlglass", "Overdose prevention site",
      "A supervised space where people can use pre-obtained drugs with trained staff ready to respond to an overdose, plus drug checking, sterile supplies and a link to treatment when wanted.",
      ["HR05", "HR03", "HR04"],
      [("owlglass-ops", [("MO,TU,WE,TH,FR,SA", "10:00", "22:00", "Monday to Saturday, 10am to 10pm.")])],
      [FREE], ["in_person"], LB_ALL, ["people_who_use_drugs", "homeless"],
      langs=["en", "es"], phones=[("434-555-0172", "Site (call for directions)")], min_age=18,
      apply="Call for directions; the address is not published."),
]


def money(amount):
    return "free" if amount == 0 else "USD %g" % amount


def build_service(s, locations):
    slug = s["slug"]
    sid = uid("service", slug)
    oid = uid("organization", s["org"])
    org = ORGS[s["org"]]
    svc = {"id": sid, "organization_id": oid, "name": s["name"], "description": s["desc"] + FICTIONAL,
           "url": "%s/services/%s" % (org["website"], slug), "email": org["email"], "status": "active"}
    if s["interp"]:
        svc["interpretation_services"] = s["interp"]
    if s["apply"]:
        svc["application_process"] = s["apply"]
    svc["fees_description"] = "; ".join(
        "%s: %s" % (o, d.rstrip(".")) for _, o, _, d in s["cost"]) + "."
    if s["elig"]:
        svc["eligibility_description"] = s["elig"]
    elif s["min_age"] is not None or s["max_age"] is not None:
        lo, hi = s["min_age"], s["max_age"]
        svc["eligibility_description"] = ("Ages %d to %d." % (lo, hi) if lo is not None and hi is not None
                                          else "Ages %d and over." % lo if lo is not None else "Up to age %d." % hi)
    if s["min_age"] is not None:
        svc["minimum_age"] = s["min_age"]
    if s["max_age"] is not None:
        svc["maximum_age"] = s["max_age"]
    if s["phones"]:
        svc["phones"] = []
        for i, p in enumerate(s["phones"], 1):
            number, desc = p[0], p[1]
            ptype = p[2] if len(p) > 2 else "voice"
            svc["phones"].append({"id": uid("phone", "%s:%d" % (slug, i)), "service_id": sid, "number": number,
                                  "type": ptype, "description": desc})
    if s["sites"]:
        sals = []
        for loc_slug, scheds in s["sites"]:
            sal_slug = "%s:%s" % (slug, loc_slug)
            sal_id = uid("service_at_location", sal_slug)
            sal = {"id": sal_id, "service_id": sid, "location_id": uid("location", loc_slug)}
            if scheds:
                sal["schedules"] = [{"id": uid("schedule", "%s:%d" % (sal_slug, i)), "service_at_location_id": sal_id,
                                     "freq": "WEEKLY", "byday": byday, "opens_at": o, "closes_at": c, "description": d}
                                    for i, (byday, o, c, d) in enumerate(scheds, 1)]
            sal["location"] = copy.deepcopy(locations[loc_slug])
            sals.append(sal)
        svc["service_at_locations"] = sals
    svc["languages"] = [{"id": uid("language", "%s:%s" % (slug, c)), "service_id": sid, "name": LANG_NAMES[c], "code": c}
                        for c in s["langs"]]
    svc["organization"] = build_org(s["org"])
    svc["cost_options"] = []
    for i, (code, option, amount, desc) in enumerate(s["cost"], 1):
        co = {"id": uid("cost_option", "%s:%d" % (slug, i)), "service_id": sid, "option": option}
        if amount is not None:
            co["amount"] = amount
            co["currency"] = "USD"
        co["amount_description"] = desc
        svc["cost_options"].append(co)
    attrs = [attribute("service", slug, sid, SERVICE_TERMS[c]) for c in s["terms"]]
    cost_codes = []
    for code, _, _, _ in s["cost"]:
        if code and code not in cost_codes:
            cost_codes.append(code)
    for key, codes in (("cost", cost_codes), ("acc", s["acc"]), ("delivery", s["delivery"]),
                       ("lb", s["lb"]), ("pop", s["pop"])):
        for c in codes:
            attrs.append(attribute("service", slug, sid, filter_term(SHORT[key], c)))
    svc["attributes"] = attrs
    return svc


def build():
    locations = {slug: build_location(slug) for slug in list(PHYS) + list(VIRTUAL)}
    return [build_service(s, locations) for s in SERVICES]


# --- checks -------------------------------------------------------------------
def km(a, b):
    (la1, lo1), (la2, lo2) = a, b
    p1, p2 = math.radians(la1), math.radians(la2)
    dp, dl = p2 - p1, math.radians(lo2 - lo1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def is_uuid(v):
    try:
        return isinstance(v, str) and str(uuid.UUID(v)) == v
    except ValueError:
        return False


def walk(v, path, errors, ids):
    if v is None:
        errors.append("%s: null" % path)
    elif isinstance(v, str) and not v.strip():
        errors.append("%s: empty string" % path)
    elif isinstance(v, (list, dict)) and not v:
        errors.append("%s: empty %s" % (path, type(v).__name__))
    if isinstance(v, dict):
        for k, x in v.items():
            if (k == "id" or k.endswith("_id")) and not is_uuid(x):
                errors.append("%s.%s: not a UUID: %r" % (path, k, x))
            walk(x, "%s.%s" % (path, k), errors, ids)
        if "id" in v:
            ids.setdefault(v["id"], []).append((path, json.dumps(v, sort_keys=True)))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, "%s[%d]" % (path, i), errors, ids)


def service_filter_values(svc):
    """{taxonomy: set(codes)} from the service's attributes and its locations' attributes."""
    out = {}
    for a in svc["attributes"]:
        out.setdefault(a["taxonomy_term"]["taxonomy"], set()).add(a["taxonomy_term"]["code"])
    for sal in svc.get("service_at_locations", []):
        for a in sal["location"].get("attributes", []):
            out.setdefault(a["taxonomy_term"]["taxonomy"], set()).add(a["taxonomy_term"]["code"])
        if sal["location"]["location_type"] == "virtual":
            out.setdefault("haven-delivery", set()).add("virtual")
    return out


def schedules_of(svc):
    return [sc for sal in svc.get("service_at_locations", []) for sc in sal.get("schedules", [])]


def check(services):
    errors, ids = [], {}
    walk(services, "$", errors, ids)
    for i, list_ in ids.items():
        if len({c for _, c in list_}) > 1:
            errors.append("id %s names different objects: %s" % (i, sorted({p for p, _ in list_})[:3]))
    kinds = {}
    for i, list_ in ids.items():
        kinds.setdefault(i, set()).update(p.rsplit(".", 1)[-1].split("[")[0] for p, _ in list_)
    if len({s["id"] for s in services}) != len(services):
        errors.append("duplicate service ids")
    for s in services:
        if not s["description"].endswith(FICTIONAL):
            errors.append("%s: description must end with %r" % (s["name"], FICTIONAL))
        for sal in s.get("service_at_locations", []):
            loc = sal["location"]
            if loc["location_type"] == "physical":
                d = km(CENTRE, (loc["latitude"], loc["longitude"]))
                if d > MAX_KM:
                    errors.append("%s is %.1f km from Charlottesville" % (loc["name"], d))
            for sc in sal.get("schedules", []):
                days = sc["byday"].split(",")
                if not set(days) <= set(ALL.split(",")) or len(set(days)) != len(days):
                    errors.append("%s: bad byday %s" % (s["name"], sc["byday"]))
                for t in (sc["opens_at"], sc["closes_at"]):
                    if len(t) != 5 or t[2] != ":" or not (0 <= int(t[:2]) < 24 and 0 <= int(t[3:]) < 60):
                        errors.append("%s: bad time %s" % (s["name"], t))
        for a in s["attributes"]:
            if a["link_id"] != s["id"]:
                errors.append("%s: attribute link_id is not the service id" % s["name"])
    # coverage
    used = {}
    for s in services:
        for tax, codes in service_filter_values(s).items():
            for c in codes:
                used.setdefault((tax, c), set()).add(s["id"])
    for tax, codes in FILTER_VOCABS.items():
        for c in codes:
            n = len(used.get((tax, c), ()))
            if n < 2:
                errors.append("filter value %s=%s used by %d service(s), need 2" % (tax, c, n))
    for r in SERVICE_ROWS:
        if r["parent_code"] and not used.get(("haven-services", r["code"])):
            errors.append("haven-services term %s unused" % r["code"])
    langs = {}
    for s in services:
        for l in s["languages"]:
            langs.setdefault(l["code"], set()).add(s["id"])
    for c in LANG_NAMES:
        if len(langs.get(c, ())) < 2:
            errors.append("language %s used by fewer than 2 services" % c)
    fees = {min(co["amount"] for co in s["cost_options"] if "amount" in co)
            for s in services if any("amount" in co for co in s["cost_options"])}
    for f in (0, 5, 10, 20, 40):
        if f not in fees:
            errors.append("no service whose cheapest fee is %s" % f)
    sched = [schedules_of(s) for s in services]
    n247 = sum(1 for sc in sched if any(x["byday"] == ALL and x["opens_at"] == "00:00" and x["closes_at"] == "23:59" for x in sc))
    overnight = sum(1 for sc in sched if any(x["closes_at"] < x["opens_at"] for x in sc))
    weekend = sum(1 for sc in sched if sc and all(set(x["byday"].split(",")) <= {"SA", "SU"} for x in sc))
    none = sum(1 for sc in sched if not sc)
    for label, n in (("24/7", n247), ("overnight", overnight), ("weekend-only", weekend), ("no schedule", none)):
        if n < (2 if label == "24/7" else 1):
            errors.append("too few %s services (%d)" % (label, n))
    combo = combined_search(services)
    if not combo:
        errors.append("combined search (free+wheelchair+walk_in+no_id_required+no_abstinence_required+es near downtown) is empty")
    return errors, dict(n247=n247, overnight=overnight, weekend=weekend, none=none, combo=combo, used=used)


def combined_search(services):
    out = []
    for s in services:
        v = service_filter_values(s)
        ok = ("free" in v.get("haven-cost", ()) and "wheelchair" in v.get("haven-accessibility", ())
              and {"walk_in", "no_id_required", "no_abstinence_required"} <= v.get("haven-low-barrier", set())
              and "es" in {l["code"] for l in s["languages"]})
        near = any(sal["location"].get("latitude") is not None
                   and km(CENTRE, (sal["location"]["latitude"], sal["location"]["longitude"])) <= 10
                   for sal in s.get("service_at_locations", []))
        if ok and near:
            out.append(s["name"])
    return out


def check_taxonomy_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = [{k: r[k] for k in ("code", "parent_code", "name", "description")} for r in csv.DictReader(f)]
    return [] if rows == SERVICE_ROWS else ["embedded haven-services vocabulary differs from %s" % path]


def check_against_samhsa(services, path):
    """Every id that also appears in the SAMHSA data set must name identical content there."""
    with open(path, encoding="utf-8") as f:
        other = json.load(f)
    theirs, mine, errors = {}, {}, []
    walk(other, "$", [], theirs)
    walk(services, "$", [], mine)
    shared = set(theirs) & set(mine)
    for i in sorted(shared):
        if {c for _, c in theirs[i]} != {c for _, c in mine[i]}:
            errors.append("id %s differs from %s" % (i, path))
    return errors, len(shared)


def validate(services, schema_path):
    import jsonschema
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    checker = copy.deepcopy(checker)

    @checker.checks("uri", raises=ValueError)
    def _uri(v):  # jsonschema checks `uri` only with rfc3987 installed; do a strict-enough check ourselves
        if not isinstance(v, str):
            return True
        u = urlparse(v)
        if not (u.scheme in ("http", "https") and u.netloc and " " not in v):
            raise ValueError("not an absolute http(s) URI: %r" % v)
        return True

    v = jsonschema.Draft202012Validator(schema, format_checker=checker)
    bad = 0
    for s in services:
        errs = sorted(v.iter_errors(s), key=lambda e: list(e.path))
        for e in errs:
            print("INVALID %s at %s: %s" % (s["name"], "/".join(map(str, e.path)), e.message), file=sys.stderr)
        bad += bool(errs)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output file (default: data/demo-harm-reduction.hsds.json)")
    ap.add_argument("--validate", metavar="SCHEMA", help="validate every service against this JSON Schema (needs jsonschema)")
    ap.add_argument("--taxonomy-csv", metavar="CSV", default=DEFAULT_TAXONOMY_CSV,
                    help="check the embedded haven-services vocabulary against this taxonomy.csv (default: data/taxonomy.csv, if present)")
    ap.add_argument("--samhsa", metavar="JSON", default=DEFAULT_SAMHSA,
                    help="check that ids shared with this data set name identical objects (default: data/samhsa-va.hsds.json, if present)")
    args = ap.parse_args()

    services = build()
    errors, stats = check(services)
    if args.taxonomy_csv and os.path.exists(args.taxonomy_csv):
        errors += check_taxonomy_csv(args.taxonomy_csv)
    shared = 0
    if args.samhsa and os.path.exists(args.samhsa):
        e, shared = check_against_samhsa(services, args.samhsa)
        errors += e
    for e in errors:
        print("ERROR " + e, file=sys.stderr)
    if errors:
        return 1

    text = json.dumps(services, indent=2, ensure_ascii=False) + "\n"
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    orgs = {s["organization_id"] for s in services}
    locs = {sal["location_id"] for s in services for sal in s.get("service_at_locations", [])}
    print("wrote %s: %d services, %d organizations, %d locations" % (os.path.relpath(args.out), len(services), len(orgs), len(locs)))
    print("schedules: %d open 24/7, %d overnight, %d weekend-only, %d without schedule; %d ids shared with the SAMHSA set, all identical"
          % (stats["n247"], stats["overnight"], stats["weekend"], stats["none"], shared))
    print("combined search free+wheelchair+walk_in+no_id_required+no_abstinence_required+es within 10 km: %d services" % len(stats["combo"]))
    if args.validate:
        bad = validate(services, args.validate)
        print("validated %d services against %s: %d invalid" % (len(services), args.validate, bad))
        if bad:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
