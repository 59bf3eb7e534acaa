"""The research system's two small corpora: local documents (vector search) and web pages (web search)."""

from __future__ import annotations

__all__ = ["LOCAL_DOCUMENTS", "WEB_PAGES"]

# id -> text: the team's own notes, searched by embedding similarity.
LOCAL_DOCUMENTS: dict[str, str] = {
    "notes/heat-pump-cold-trial": (
        "Cold-climate heat pump trial, 2023: twelve homes in Vermont ran air-source heat pumps all "
        "winter. Average coefficient of performance was 2.4 between 0 C and -15 C and fell to 1.5 at "
        "-25 C. Three homes used electric backup heat on the coldest nights."
    ),
    "notes/heat-pump-sizing": (
        "Sizing guide: an undersized heat pump runs its backup resistance heater often, which erases "
        "most of the savings. Size for the 99 percent design temperature, not the average winter day."
    ),
    "notes/gas-furnace-costs": (
        "Gas furnace operating costs rose 18 percent in two years. A 95 percent efficient furnace still "
        "emits about 5.3 kg of CO2 per therm burned."
    ),
    "notes/insulation-first": (
        "Air sealing and attic insulation cut heating demand by 15 to 30 percent, which lets a smaller, "
        "cheaper heat pump cover the whole load."
    ),
    "notes/solar-battery": (
        "Home batteries paired with rooftop solar shift midday generation to the evening peak; payback "
        "is 9 to 12 years without incentives."
    ),
    "notes/ev-charging": (
        "A level 2 EV charger adds about 7 kW of load; panels under 150 A may need an upgrade."
    ),
    "notes/ground-source": (
        "Ground-source heat pumps keep a COP near 3.5 all winter because the ground stays near 10 C, "
        "but drilling costs 15,000 to 30,000 dollars."
    ),
    "notes/defrost-cycles": (
        "Air-source units defrost their outdoor coil in humid cold weather; each cycle pauses heating "
        "for 5 to 10 minutes, which well-sized systems ride through."
    ),
}

# url -> (title, text): pages served by the local web-search service.
WEB_PAGES: dict[str, tuple[str, str]] = {
    "https://energy.example.org/cold-climate-heat-pumps": (
        "Cold-climate heat pumps explained",
        "Models certified for cold climates deliver full rated capacity at -15 C and keep running down "
        "to -30 C. Efficiency drops as it gets colder, but stays above electric resistance heat.",
    ),
    "https://news.example.com/minnesota-heat-pump-study": (
        "Minnesota study: heat pumps cut bills 25 percent",
        "A utility study of 140 Minnesota homes found that cold-climate heat pumps cut heating bills by "
        "25 percent compared with propane, with backup heat covering the few days below -28 C.",
    ),
    "https://diy.example.net/heat-pump-noise": (
        "Are heat pumps noisy?",
        "Outdoor units make 45 to 60 decibels, about as loud as a conversation. Place them away from "
        "bedroom windows.",
    ),
    "https://energy.example.org/rebates-2024": (
        "Heat pump rebates in 2024",
        "Federal tax credits cover 30 percent of a heat pump installation up to 2,000 dollars; many "
        "states add rebates for low-income households.",
    ),
    "https://news.example.com/solar-prices": (
        "Solar panel prices fall again",
        "Module prices fell 20 percent this year, shortening payback for rooftop systems.",
    ),
    "https://diy.example.net/thermostat-settings": (
        "Thermostat settings for heat pumps",
        "Deep night setbacks make a heat pump call for backup heat in the morning; keep setbacks to 2 C.",
    ),
}
