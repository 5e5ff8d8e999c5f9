"""Held-out questions about the twelve stories, each with a short answer and the quoted evidence that holds it, and the
retrieval metrics recall@k and MRR.

A question's gold is a place in the book (the answer inside its evidence quote), not a chunk id, so the same questions
score any chunking: a chunk is gold when it contains that occurrence of the answer. The questions are hand-written
paraphrases; no retriever or encoder trains on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from llm_workshop.concepts.chunking import Chunk, covering, story_spans
from llm_workshop.course.data import STORY_TITLES, load_corpus

S = dict(enumerate(STORY_TITLES, start=1))
# (story number, question, answer, evidence: a quote from the story, whitespace aside, that contains the answer)
QUESTIONS = [
    (1, "Which woman was the only one that mattered to Holmes?", "Irene Adler", "and that woman was the late Irene Adler"),
    (1, "What false title did the masked visitor from Bohemia give?", "Count Von Kramm", "You may address me as the Count Von Kramm"),
    (1, "Disguised as what kind of servant did Holmes come back in the afternoon?", "groom", "a drunken-looking groom, ill-kempt and side-whiskered"),
    (1, "What is the address of the lady the King wants the photograph from?", "Briony Lodge", "Is Briony Lodge, Serpentine Avenue"),
    (1, "Which lawyer of the Inner Temple visits the lady every day?", "Godfrey Norton", "He is a Mr. Godfrey Norton, of the Inner Temple"),
    (2, "What trade does the red-haired client carry on near the City?", "pawnbroker", "I have a small pawnbroker’s business at Coburg Square"),
    (2, "Which reference work was the client paid to copy by hand?", "Encyclopaedia Britannica", "Is to copy out the _Encyclopaedia Britannica_"),
    (2, "How much did the league pay its member every week?", "£4 a week", "‘And the pay?’ “ ‘Is £4 a week.’"),
    (2, "What name did the clever assistant working for half wages use?", "Vincent Spaulding", "His name is Vincent Spaulding"),
    (2, "Which bank stood next to the client's premises?", "City and Suburban Bank", "saw the City and Suburban Bank abutted on our friend’s premises"),
    (3, "What did the short-sighted young lady do for a living?", "typewriting", "I can do pretty well with what I earn at typewriting"),
    (3, "What was the stepfather's line of work in A Case of Identity?", "traveller in wines", "being a traveller in wines"),
    (3, "In which church was Miss Sutherland's wedding to be held?", "St. Saviour’s", "It was to be at St. Saviour’s, near King’s Cross"),
    (3, "At what dance did Mary Sutherland first meet her fiancé?", "gasfitters’ ball", "I met him first at the gasfitters’ ball"),
    (4, "Who was the biggest landowner in the Boscombe district?", "John Turner", "The largest landed proprietor in that part is a Mr. John Turner"),
    (4, "Which tenant farmer rented Hatherley farm?", "Charles McCarthy", "that of Hatherley, was let to Mr. Charles McCarthy"),
    (4, "What cry did the father and son use as a signal?", "Cooee", "I heard a cry of “Cooee!” which was a usual signal"),
    (4, "What Australian place was the dying man trying to name?", "Ballarat", "So and so, of Ballarat"),
    (5, "What fell onto the uncle's plate from the envelope posted in India?", "orange pips", "out there jumped five little dried orange pips"),
    (5, "What is the young visitor's name, the one who came from Horsham?", "John Openshaw", "“is John Openshaw, but my own affairs"),
    (5, "What was the name of the barque Holmes sent the pips to?", "Lone Star", "Barque _Lone Star_, Savannah, Georgia"),
    (5, "From which Indian town was the first threatening letter posted?", "Pondicherry", "The first was from Pondicherry, the second from Dundee"),
    (6, "What is the name of the opium den in Upper Swandam Lane?", "Bar of Gold", "at the Bar of Gold, in Upper Swandam Lane"),
    (6, "Whom did Watson go to fetch from an opium den?", "Isa Whitney", "I was Isa Whitney’s medical adviser"),
    (6, "What is the name of the crippled beggar who lodges above the den?", "Hugh Boone", "His name is Hugh Boone, and his hideous face"),
    (6, "Near which village in Kent does Mrs. St. Clair live?", "Lee", "Near Lee, in Kent. We have a seven-mile drive"),
    (7, "Who found the hat and the Christmas goose in the street?", "Peterson", "You know Peterson, the commissionaire?"),
    (7, "Whose name was on the card tied to the goose's leg?", "Henry Baker", "‘For Mrs. Henry Baker’ was printed upon a small card"),
    (7, "From whose jewel-case was the precious stone stolen?", "Countess of Morcar", "abstracted from the jewel-case of the Countess of Morcar"),
    (7, "What is the real name of the hotel attendant who took the jewel?", "James Ryder", "my real name is James Ryder"),
    (8, "What name does the violent stepfather give when he bursts in?", "Grimesby Roylott", "I am Dr. Grimesby Roylott, of Stoke Moran"),
    (8, "Which two Indian animals roam free on the doctor's land?", "a cheetah and a baboon", "he has at this moment a cheetah and a baboon"),
    (8, "What kind of snake was the speckled band?", "swamp adder", "It is a swamp adder!"),
    (8, "Who is Helen Stoner living with?", "stepfather", "I am living with my stepfather"),
    (9, "What is the profession of the young man who lost his thumb?", "hydraulic engineer", "By profession I am a hydraulic engineer"),
    (9, "How much was the engineer offered for one night's work?", "fifty guineas", "How would fifty guineas for a night’s work suit you?"),
    (9, "What rank and name were on the thin visitor's card?", "Colonel Lysander Stark", "with the name of ‘Colonel Lysander Stark’ engraved upon it"),
    (9, "To which station in Berkshire did the engineer travel?", "Eyford", "To Eyford, in Berkshire"),
    (9, "Which valuable clay did the colonel claim to be digging?", "fuller’s-earth", "You are probably aware that fuller’s-earth is a valuable product"),
    (10, "Whom was the Duke of Balmoral's son going to marry?", "Hatty Doran", "and Miss Hatty Doran, the only daughter of Aloysius Doran"),
    (10, "Which dancer caused a disturbance and was arrested?", "Flora Millar", "That Miss Flora Millar, the lady who had caused the disturbance"),
    (10, "Who turns out to be the bride's first husband?", "Francis Hay Moulton", "allow me to introduce you to Mr. and Mrs. Francis Hay Moulton"),
    (11, "Which banker of Threadneedle Street asks Holmes for help?", "Alexander Holder", "I am Alexander Holder, of the banking firm"),
    (11, "How many beryls were set in the coronet?", "thirty-nine", "There are thirty-nine enormous beryls"),
    (11, "Which baronet drew the banker's son back into bad company?", "Sir George Burnwell", "the influence of his friend, Sir George Burnwell"),
    (12, "What post was Violet Hunter offered?", "governess", "a situation which has been offered to me as governess"),
    (12, "What is the name of the mastiff that guards the grounds?", "Carlo", "It’s only Carlo, my mastiff"),
    (12, "What colour of dress was the new employee asked to wear?", "electric blue", "a particular shade of electric blue"),
    (12, "Near which town is the house with the copper beeches?", "Winchester", "five miles on the far side of Winchester"),
    (12, "Who is really imprisoned in the locked wing?", "Alice Rucastle", "it is the daughter, Miss Alice Rucastle"),
]  # fmt: skip

# A second, disjoint set in the same format for choosing a pipeline's knobs (2.6's sentence windows, the reader's
# recipe), so that QUESTIONS stay a test set that is scored once; like QUESTIONS, no model trains on their evidence.
DEV_QUESTIONS = [
    (1, "Which grand duchy did the royal visitor rule besides Bohemia?", "Cassel-Felstein", "Grand Duke of Cassel-Felstein, and hereditary King of Bohemia"),
    (1, "To which church did Irene Adler hurry in her cab?", "St. Monica", "The Church of St. Monica, John"),
    (1, "What coin did the bride give Holmes after the wedding?", "sovereign", "The bride gave me a sovereign"),
    (2, "What is the red-headed pawnbroker's name?", "Jabez Wilson", "Now, Mr. Jabez Wilson here has been good enough"),
    (2, "Which American millionaire founded the league?", "Ezekiah Hopkins", "founded by an American millionaire, Ezekiah Hopkins"),
    (2, "Who was the murderer, thief, smasher and forger Holmes was after?", "John Clay", "John Clay, the murderer, thief, smasher, and forger"),
    (2, "Which bank director joined the night's adventure?", "Merryweather", "Let me introduce you to Mr. Merryweather"),
    (3, "What is the name of Mary Sutherland's vanished fiancé?", "Hosmer Angel", "what has become of Mr. Hosmer Angel"),
    (3, "What surname does Mary Sutherland's stepfather bear?", "Windibank", "the easy way in which Mr. Windibank"),
    (4, "Near which town in Herefordshire is Boscombe Valley?", "Ross", "not very far from Ross, in Herefordshire"),
    (4, "What is the name of Turner's daughter?", "Alice", "she left me my dear little Alice"),
    (4, "What kind of cigar stump did Holmes find among the moss?", "Indian cigar", "It was an Indian cigar, of the variety"),
    (5, "What initials were on the label inside the burnt box?", "K. K. K.", "with the initials of K. K. K. repeated upon it"),
    (5, "What was the name of John Openshaw's uncle?", "Elias", "my uncle Elias and my father Joseph"),
    (5, "Who was the captain of the barque the pips were sent to?", "James Calhoun", "addressed it to “Captain James Calhoun"),
    (6, "Who went into town early last Monday and vanished?", "Neville St. Clair", "Last Monday Mr. Neville St. Clair went into town"),
    (6, "At which house does Holmes have a double-bedded room?", "The Cedars", "My room at The Cedars is a double-bedded one"),
    (7, "Which inn near the Museum did the goose club members frequent?", "Alpha Inn", "frequent the Alpha Inn, near the Museum"),
    (7, "Which plumber was accused of stealing the stone?", "John Horner", "John Horner, a plumber, was accused"),
    (7, "Who supplied the Covent Garden salesman with the geese?", "Mrs. Oakshott", "Mrs. Oakshott, 117, Brixton Road, egg and poultry supplier"),
    (8, "What was the name of Helen Stoner's twin sister?", "Julia", "My sister Julia and I were twins"),
    (8, "What sound did Helen Stoner hear at three in the morning?", "whistle", "heard a low, clear whistle"),
    (9, "What name was on the engineer's card?", "Victor Hatherley", "Mr. Victor Hatherley, hydraulic engineer"),
    (9, "How many miles had the horse supposedly gone over heavy roads?", "twelve miles", "if it had gone twelve miles over heavy roads"),
    (10, "What is the name of the Duke of Balmoral's second son?", "Lord Robert St. Simon", "between Lord Robert St. Simon, second son of the Duke"),
    (10, "From which city does the bride's father come?", "San Francisco", "Aloysius Doran. Esq., of San Francisco"),
    (11, "What is the name of the banker's only son?", "Arthur", "I am a widower and have an only son, Arthur"),
    (11, "Which niece of the banker deserted him?", "Mary", "My niece, Mary, has deserted me"),
    (12, "What is the first name of the gentleman who hires the governess?", "Jephro", "Jephro Rucastle"),
    (12, "What must the governess cut short before she comes?", "hair", "Or to cut your hair quite short before you come"),
    (12, "Whom did Alice Rucastle meet at a friend's house?", "Fowler", "after she met Mr. Fowler at a friend’s house"),
    (12, "What is the name of the rough man who serves the Rucastles?", "Toller", "Toller, for that is his name"),
]  # fmt: skip


@dataclass(frozen=True)
class EvalItem:
    """A question with its answer, its story, and where in the book (character offsets) the answer's evidence is."""

    question: str
    answer: str
    story: str
    evidence: str
    answer_start: int
    answer_end: int


def quote_pattern(quote: str) -> str:
    """A regex that matches `quote` whatever the whitespace (the book breaks lines inside sentences)."""
    return r"\s+".join(re.escape(word) for word in quote.split())


@lru_cache(maxsize=1)
def eval_items() -> tuple[EvalItem, ...]:
    """QUESTIONS located in the book: the answer's offsets inside the first match of its evidence within its story."""
    return locate(QUESTIONS)


@lru_cache(maxsize=1)
def dev_items() -> tuple[EvalItem, ...]:
    """DEV_QUESTIONS located in the book, like `eval_items`."""
    return locate(DEV_QUESTIONS)


def locate(questions: Sequence[tuple[int, str, str, str]]) -> tuple[EvalItem, ...]:
    """Each (story, question, answer, evidence) with the answer's offsets inside the first match of its evidence."""
    corpus, spans, items = load_corpus(), dict(story_spans()), []
    for number, question, answer, evidence in questions:
        start, end = spans[S[number]]
        found = re.compile(quote_pattern(evidence)).search(corpus, start, end)
        if not found:
            raise ValueError(f"the evidence {evidence!r} is not in {S[number]!r}; quote the story exactly")
        inner = re.compile(quote_pattern(answer)).search(corpus, found.start(), found.end())
        if not inner:
            raise ValueError(f"the answer {answer!r} is not inside its evidence {evidence!r}")
        items.append(EvalItem(question, answer, S[number], evidence, inner.start(), inner.end()))
    return tuple(items)


def gold_indices(chunks: Sequence[Chunk], item: EvalItem) -> set[int]:
    """Indices of the chunks that hold the item's answer at its evidence (one, or two where windows overlap)."""
    return set(covering(list(chunks), item.answer_start, item.answer_end))


def recall_at_k(ranked: Sequence[Sequence[int]], gold: Sequence[set[int]], k: int) -> float:
    """Share of questions with a gold chunk among their top k (ranked[i] lists chunk indices, best first)."""
    _check(ranked, gold)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return sum(bool(set(r[:k]) & g) for r, g in zip(ranked, gold)) / len(gold)


def mrr(ranked: Sequence[Sequence[int]], gold: Sequence[set[int]]) -> float:
    """Mean reciprocal rank: 1 / (rank of the first gold chunk), 0 when none is ranked, averaged over questions."""
    _check(ranked, gold)
    total = 0.0
    for r, g in zip(ranked, gold):
        total += next((1.0 / rank for rank, i in enumerate(r, start=1) if i in g), 0.0)
    return total / len(gold)


def _check(ranked: Sequence[Sequence[int]], gold: Sequence[set[int]]) -> None:
    """Raise a ValueError with a sentence when rankings and gold sets do not pair up or a question has no gold."""
    if len(ranked) != len(gold) or not gold:
        raise ValueError(f"need one ranking per question and at least one question, got {len(ranked)} and {len(gold)}")
    if any(not g for g in gold):
        raise ValueError("a question has no gold chunk: no chunk contains its answer (check the chunking or the item)")
