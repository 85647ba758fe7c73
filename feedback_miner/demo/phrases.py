"""Phrase tables and problem definitions for the synthetic demo feedback stream.

Pure data used by :mod:`feedback_miner.demo.generate`. Templates use a tiny grammar that
``demo._expand`` understands:

* ``{a|b|c}``  -- pick one alternative;
* ``{slot}``   -- fill from :data:`SLOTS` (or from the per-row context, e.g. ``{version}``);
* ``[text]``   -- optional text, included about half of the time.

The category ids here are ground truth for evaluation only; they are never written
to the CSV (the product must infer them).
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES: tuple[str, ...] = (
    "technical", "user_interface", "payment", "account", "shipping", "feature_request", "other",
)


@dataclass(frozen=True)
class ProblemSpec:
    """One recurring problem (or one kind of 'other' feedback) in the demo stream."""

    pid: str
    category: str
    weight: float  # relative size among problems (or among 'other' kinds)
    templates: tuple[str, ...]
    details: tuple[str, ...] = ()
    trend: str = "steady"  # "steady" | "emerging" | "fading"
    rating: float = 2.6  # mean CSAT of the support interaction
    nps_bias: float = 0.0
    seller_share: float = 0.15
    platform: str | None = None  # "android" | "mobile" | "small_phone" | "desktop"
    app: bool | None = None  # True: app only, False: web only, None: either
    messaging: float = 0.0  # probability the row is a messaging-system rating
    escalation: float = 0.08


SLOTS: dict[str, tuple[str, ...]] = {
    "app": ("the app", "your app", "the Android app", "the marketplace app"),
    "item": ("a jacket", "a vintage lamp", "trainers", "a phone case", "a PS5 controller",
             "baby clothes", "a bike helmet", "some books", "a coffee machine", "a desk chair"),
    "order": ("my order", "the order", "my last order", "order {order_no}", "my purchase"),
    "when": ("yesterday", "this morning", "two days ago", "last week", "on Monday", "today",
             "a few days ago"),
    "frustrated": ("This is really frustrating.", "Very annoying.", "Not happy at all.",
                   "This is unacceptable.", "I'm losing patience.", "Seriously?"),
    "please": ("Please help.", "Please fix this.", "Can someone look into it?", "Any update?",
               "What should I do?", "Please advise.", "Help!"),
    "agent": ("Maria", "Tom", "Aisha", "Lukas", "Priya", "Daniel", "Sofia", "Ken"),
}

OPENERS: tuple[str, ...] = (
    "Hi,", "Hello,", "Hi team,", "Hello support,", "Good morning,", "Hey,", "Hi there,",
)

PII_EMAIL: tuple[str, ...] = (
    "You can reach me at {email}.", "My email is {email} if you need it.",
    "Please reply to {email}, not the account address.", "Contact me: {email}",
)
PII_PHONE: tuple[str, ...] = (
    "Call me on {phone}.", "Please call me back at {phone}.", "My number is {phone}.",
    "Best to phone me: {phone}",
)
PII_CARD: tuple[str, ...] = (
    "The card was {card}.", "I used my card {card}, please check it.",
    "Card number {card} in case you need it.",
)
PHONES: tuple[str, ...] = (
    "+44 7700 900123", "(555) 010-4477", "+1 555 010 2288", "07700 900456",
    "+49 30 901820", "+44 20 7946 0958", "555-0134",
)
CARDS: tuple[str, ...] = (  # Luhn-valid public test numbers
    "4111 1111 1111 1111", "5555 5555 5555 4444", "4012 8888 8888 1881",
    "4111-1111-1111-1111", "5105105105105100", "3782 822463 10005",
)
FIRST_NAMES: tuple[str, ...] = ("jane", "john", "amir", "lena", "oliver", "mia", "raj", "chloe")
LAST_NAMES: tuple[str, ...] = ("doe", "smith", "khan", "muller", "brown", "rossi", "patel", "lee")
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "mail.example.net")

MULTI_ISSUE_JOINERS: tuple[str, ...] = (
    "Also,", "And while I'm here:", "Another thing:", "Unrelated, but", "PS:",
)

PROBLEMS: tuple[ProblemSpec, ...] = (
    # ---------------------------------------------------------------- technical
    ProblemSpec(
        "android_crash_order_history", "technical", 10.0,
        (
            "{app} {crashes|keeps crashing|force closes|closes itself} {when I open|as soon as I open|every time I tap|whenever I go to} {order history|my orders|the order history page|my purchases}[ since the {latest|last|5.3} update].",
            "Since updating to {version} the app crashes when I try to view my order history.",
            "After the update ({version}) I can't open my orders at all, the app just {shuts down|closes|goes back to the home screen}.",
            "Order history crashes the app on my {device}[, reinstalling didn't help].",
            "Every time I open 'My orders' the app {freezes and closes|crashes|shows a white screen and then closes}.",
            "App broken after the latest update: tapping order history = instant crash.",
            "I can't check my past orders because {app} crashes[ on Android].",
            "{Order history|My orders page} {makes the app crash|crashes the app} since version {version}.",
        ),
        ("I already tried reinstalling.", "Clearing the cache didn't help.",
         "It worked fine before the update.", "Version {version} on {device}.",
         "I need the order details to request a return.", "Restarting the phone does nothing."),
        rating=2.3, platform="android", app=True, escalation=0.15,
    ),
    ProblemSpec(
        "photo_upload_fails", "technical", 6.0,
        (
            "Photo upload fails when I try to list {item}[, it just says 'upload failed'].",
            "I can't upload pictures for my listing, {the spinner never stops|it gets stuck at 99%|it shows an error}.",
            "{Uploading|Adding} photos to a new listing doesn't work[ since {when}].",
            "The listing photos won't upload, I've tried {three|several|many} times.",
            "Images fail to upload when creating a listing, so I can't sell anything.",
            "Whenever I add a picture to my item the upload {errors out|times out|fails}.",
        ),
        ("The photos are normal JPGs under 5 MB.", "Tried on wifi and mobile data.",
         "I have {three|ten|twenty} items waiting to be listed.", "I'm losing sales because of this."),
        rating=2.5, seller_share=0.9, escalation=0.12,
    ),
    ProblemSpec(
        "search_timeout_504", "technical", 7.0,
        (
            "Search {keeps timing out|doesn't load|takes forever} (Error 504).",
            "I get a 504 Gateway Timeout when I search for {item}.",
            "The search results page {never loads|times out|just spins} and then shows error 504.",
            "Searching is broken, {every search ends|half my searches end} with a timeout error.",
            "Error 504 on the search page again[ {when}].",
            "Can't search for anything, the results page times out.",
        ),
        ("Other pages load fine.", "Tried two browsers.", "It happens with any search term.",
         "{frustrated}"),
        trend="fading", rating=2.6, platform="desktop", app=False, escalation=0.1,
    ),
    ProblemSpec(
        "messages_not_delivered", "technical", 3.0,
        (
            "My messages to the seller {aren't delivered|never arrive|show as 'not sent'}.",
            "The seller says they never got my message[ about {order}].",
            "I don't get any notification when a buyer messages me.",
            "Messages in the inbox {don't send|disappear|are stuck on 'sending'}.",
            "Chat with the seller doesn't work, my message just {vanishes|fails}.",
        ),
        ("I need to ask about {order}.", "Happened with several sellers."),
        rating=2.7, seller_share=0.35, messaging=0.75,
    ),
    # ----------------------------------------------------------- user_interface
    ProblemSpec(
        "returns_button_hidden", "user_interface", 7.0,
        (
            "I can't find the {returns|return} button {anywhere|on the order page|in the app}.",
            "Where is the option to return {item}? I've looked everywhere.",
            "How do I start a return? There's no {button|link|option} for it.",
            "The return option is {impossible to find|hidden|buried somewhere}.",
            "I want to send back {item} but I can't see how to {start a return|request a return}.",
            "{Where|How} do I return an item?? The page has no return button.",
        ),
        ("It's order {order_no}.", "Your help page says there should be a button but there isn't.",
         "The return window closes soon."),
        rating=3.2,
    ),
    ProblemSpec(
        "filters_reset", "user_interface", 5.0,
        (
            "The {filters|search filters} reset every time I go back to the results.",
            "When I press back all my filters are {gone|cleared|reset}.",
            "Going back from an item {loses|resets|clears} my size and price filters.",
            "Annoying: filters don't stay applied after viewing a listing.",
            "Every time I open a product and go back I have to set the filters again.",
        ),
        ("{frustrated}", "It makes browsing really slow.", "Same on app and website."),
        rating=3.1,
    ),
    ProblemSpec(
        "checkout_button_hidden", "user_interface", 3.0,
        (
            "On my phone the checkout button is {hidden|cut off|off the screen}.",
            "I can't press 'Pay now', the button is {behind the keyboard|under the cookie banner|cut off} on my {device}.",
            "The checkout page doesn't fit my small screen, the {buy|pay} button is missing.",
            "Can't complete checkout on mobile because the button isn't visible.",
        ),
        ("I had to use my laptop instead.", "Scrolling doesn't help."),
        rating=2.9, platform="small_phone",
    ),
    # ------------------------------------------------------------------ payment
    ProblemSpec(
        "card_declined_pay402", "payment", 10.0,
        (
            "My card {is declined|gets declined|was declined} at checkout with error PAY-402.",
            "Error PAY-402 when I try to pay[, my bank says there is no problem].",
            "Payment {fails|keeps failing} with 'card declined (PAY-402)' but the card works everywhere else.",
            "I {tried|attempted} to buy {item} and got PAY-402 card declined {three times|twice|again}.",
            "Checkout says my card was declined[ (PAY-402)] even though I have enough money.",
            "Card declined at checkout again, code PAY-402.",
            "Why does my {Visa|Mastercard|debit card} keep getting declined? Error PAY-402.",
        ),
        ("My bank confirmed nothing was blocked.", "I tried two different cards.", "{frustrated}",
         "I'm about to lose the item."),
        rating=1.8, nps_bias=-1.5, escalation=0.22,
    ),
    ProblemSpec(
        "charged_twice", "payment", 6.0,
        (
            "I was charged twice for {order}.",
            "{Double charge|Duplicate payment} on my card for one order[ {when}].",
            "You took the money two times for the same purchase.",
            "My bank statement shows two payments of {amount} for one order.",
            "I paid once but got charged {twice|two times|double}, please refund the extra.",
        ),
        ("I only have one order in my account.", "I need that money back asap.", "{frustrated}"),
        rating=1.9, nps_bias=-1.5, escalation=0.25,
    ),
    ProblemSpec(
        "refund_not_received", "payment", 9.0,
        (
            "I still haven't received my refund for {item} I returned {when}.",
            "The seller got the return {days} days ago but no refund yet.",
            "Where is my refund? {It's been|Already} {days} days since the return was delivered.",
            "Refund of {amount} {not received|still missing|never arrived} after returning {order}.",
            "Return was accepted but the money never came back to my account.",
            "Still waiting for my refund, {days} days now.",
        ),
        ("Tracking shows the return was delivered.", "{please}", "{frustrated}",
         "Nobody answers my emails."),
        rating=1.9, nps_bias=-1.2, escalation=0.2,
    ),
    ProblemSpec(
        "seller_payout_delayed", "payment", 5.0,
        (
            "My payout {is late|hasn't arrived|is delayed}, it should have been paid {when}.",
            "Seller payouts delayed again, I'm still waiting for {amount}.",
            "I sold {item} {days} days ago and still haven't been paid.",
            "When will I get my money? The payout status says 'processing' for {days} days.",
            "Payout {not received|missing|stuck} for my sales[ this week].",
        ),
        ("I rely on this income.", "My bank details are correct.", "{please}"),
        rating=2.0, nps_bias=-1.0, seller_share=0.95, escalation=0.2,
    ),
    ProblemSpec(
        "paypal_checkout_fails", "payment", 8.0,
        (
            "PayPal checkout fails with error PP-1002.",
            "Paying with PayPal doesn't work, I get {a payment gateway timeout|error PP-1002|'gateway timeout'}.",
            "Stuck on 'Connecting to PayPal' and then error PP-1002.",
            "I can't pay with PayPal anymore[ since {when}], it {times out|fails|errors out}.",
            "Error PP-1002 {every time|whenever} I choose PayPal at checkout.",
            "Payment gateway timeout when I try to {check out|pay} with PayPal.",
            "PayPal {window closes|page hangs} and the order fails (PP-1002).",
        ),
        ("Card payment works, only PayPal fails.", "My PayPal account is fine.", "{frustrated}",
         "Tried several times {today|this morning}."),
        trend="emerging", rating=1.9, nps_bias=-1.3, escalation=0.3,
    ),
    # ------------------------------------------------------------------ account
    ProblemSpec(
        "password_reset_email", "account", 8.0,
        (
            "The password reset email never arrives.",
            "I {requested|asked for} a password reset {three times|several times|twice} and got no email.",
            "No reset link in my inbox[ or spam folder], I can't log in.",
            "Forgot my password and the reset email {isn't coming|never comes|doesn't show up}.",
            "Reset password link not received, checked spam too.",
        ),
        ("Checked the spam folder.", "I can't access my orders.", "{please}"),
        rating=2.6, escalation=0.1,
    ),
    ProblemSpec(
        "twofa_lockout", "account", 5.0,
        (
            "I'm locked out because the 2FA code {isn't accepted|is always wrong|doesn't work}.",
            "The verification code from the SMS is rejected every time.",
            "Two-factor code says 'invalid' and now my account is locked.",
            "Locked out of my account after the {2FA|verification|security} code failed.",
            "I can't log in, it keeps asking for a code and then says it's {invalid|expired}.",
        ),
        ("I typed it correctly within a minute.", "I have a sale going on.", "{frustrated}"),
        rating=2.3, seller_share=0.3, escalation=0.2,
    ),
    ProblemSpec(
        "change_email", "account", 3.0,
        (
            "How do I change the email address on my account?",
            "I can't change my email, the save button does nothing.",
            "Updating my email address {fails|gives an error|doesn't work}.",
            "I need to change my login email but there is no option for it.",
        ),
        ("My old address will be closed soon.",),
        rating=3.2,
    ),
    # ----------------------------------------------------------------- shipping
    ProblemSpec(
        "tracking_not_updating", "shipping", 11.0,
        (
            "The tracking number {isn't updating|hasn't updated|shows nothing} for {days} days.",
            "Tracking for {order} is stuck on '{label created|in transit|shipped}'.",
            "My parcel's tracking {hasn't moved|is frozen|shows no updates} since {when}.",
            "Where is my package? Tracking has said the same thing for {days} days.",
            "The tracking link doesn't work[ and the seller doesn't answer].",
            "No tracking updates on {item} I ordered {when}.",
        ),
        ("The seller says it was shipped.", "{please}", "I need it by the weekend."),
        rating=2.8, escalation=0.06,
    ),
    ProblemSpec(
        "delivered_not_received", "shipping", 7.0,
        (
            "My parcel is marked as delivered but I never received it.",
            "Tracking says delivered {when} but nothing arrived.",
            "{order} shows delivered, but there's no package{ at my door| anywhere| with my neighbours}.",
            "The courier marked it delivered and I didn't get {item}.",
            "Says delivered, not received. I was home all day.",
        ),
        ("I checked with my neighbours.", "{frustrated}", "I want a refund."),
        rating=2.2, nps_bias=-0.8, escalation=0.18,
    ),
    ProblemSpec(
        "item_damaged", "shipping", 4.0,
        (
            "{item} arrived damaged.",
            "The item was broken when it arrived[, the box was crushed].",
            "Received {item} today and it's {damaged|broken|cracked|scratched}.",
            "My order came damaged, {the packaging was terrible|it wasn't packed properly}.",
        ),
        ("I have photos.", "I'd like a replacement or refund."),
        rating=2.7,
    ),
    # ---------------------------------------------------------- feature_request
    ProblemSpec(
        "saved_search_alerts", "feature_request", 5.0,
        (
            "It would be great to save searches and get alerts for new listings.",
            "Please add {saved searches|search alerts|notifications for new items}.",
            "Can you add a way to get notified when {item} is listed?",
            "I'd love an alert when something matching my search shows up.",
            "Feature request: save a search and get an email when new items match.",
        ),
        ("Other marketplaces have this.", "I'd use it every day."),
        rating=3.9, nps_bias=0.5, escalation=0.01,
    ),
    ProblemSpec(
        "bulk_edit_listings", "feature_request", 3.0,
        (
            "Please let sellers edit {many|multiple|all their} listings at once.",
            "We need bulk editing for prices and shipping on listings.",
            "Editing {fifty|100|dozens of} listings one by one takes hours, add bulk edit please.",
            "Feature request: bulk edit / bulk price change for sellers.",
        ),
        ("It would save me hours every week.",),
        rating=3.6, seller_share=0.95, escalation=0.01,
    ),
    ProblemSpec(
        "dark_mode", "feature_request", 3.0,
        (
            "Please add dark mode.",
            "Any plans for a dark {mode|theme} in the app?",
            "The app is so bright at night, a dark mode would be nice.",
            "Would love a dark theme option.",
        ),
        ("My eyes would thank you.",),
        rating=4.0, nps_bias=0.5, escalation=0.0,
    ),
)

OTHER_KINDS: tuple[ProblemSpec, ...] = (
    ProblemSpec(
        "praise", "other", 45.0,
        (
            "Agent {agent} was super helpful, thank you!",
            "Great support, {agent} solved my problem {in minutes|straight away|quickly}.",
            "Thanks for the quick help!",
            "Very friendly and fast service, thank you {agent}.",
            "Problem solved, {great|excellent|amazing} service.",
            "{agent} went above and beyond, really appreciate it.",
            "Love the app, buying here is always easy.",
            "Fast answer and my issue is fixed. Thanks!",
        ),
        rating=4.7, nps_bias=1.0, escalation=0.0,
    ),
    ProblemSpec(
        "neutral", "other", 35.0,
        (
            "Ok.", "It was fine.", "Average experience.", "No complaints.", "All good now.",
            "Question answered.", "What are your customer service opening hours?",
            "How do I contact a seller?", "Do you ship to {Canada|Ireland|Spain}?",
            "Just wanted to check the status of {order}, it's fine now.",
            "Can I pay in instalments?",
        ),
        rating=3.8, escalation=0.0,
    ),
    ProblemSpec(
        "off_topic", "other", 20.0,
        (
            "test", "asdf", "n/a", "-", "Nice weather today.", "Do you sell gift cards?",
            "Are you hiring?", "Wrong form, sorry.", "hello?", "My cat walked on the keyboard",
        ),
        rating=3.5, escalation=0.0,
    ),
)
