<?xml version="1.0" encoding="UTF-8"?>
<!-- Common Nigerian names and places whose default reading by the Piper voice (espeak-ng
     en-us phonemes) is wrong. Each entry was chosen by comparing espeak's phonemes for the
     word (piper's PiperVoice.phonemize) with the reading intended, and kept only where they
     differ in stress, vowels or consonants a listener would notice; every symbol is one the
     voice knows. docs/pronunciations.md lists both readings. -->
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en">
  <lexeme><grapheme>Chukwuemeka</grapheme><phoneme>tʃuːkwuːˈɛmɛkɑː</phoneme></lexeme>
  <lexeme><grapheme>Oluwaseun</grapheme><phoneme>oʊluːwɑːʃˈeɪuːn</phoneme></lexeme>
  <lexeme><grapheme>Olusegun</grapheme><phoneme>oʊluːʃˈeɪɡuːn</phoneme></lexeme>
  <lexeme><grapheme>Adebayo</grapheme><phoneme>ɑːdeɪbˈɑːjoʊ</phoneme></lexeme>
  <lexeme><grapheme>Nnamdi</grapheme><phoneme>nˈɑːmdi</phoneme></lexeme>
  <lexeme><grapheme>Adaeze</grapheme><phoneme>ɑːdɑːˈeɪzeɪ</phoneme></lexeme>
  <lexeme><grapheme>Yetunde</grapheme><phoneme>jeɪtˈuːndeɪ</phoneme></lexeme>
  <lexeme><grapheme>Babatunde</grapheme><phoneme>bɑːbɑːtˈuːndeɪ</phoneme></lexeme>
  <lexeme><grapheme>Temitope</grapheme><phoneme>teɪmiːtˈoʊpeɪ</phoneme></lexeme>
  <lexeme><grapheme>Chinedu</grapheme><phoneme>tʃiːnˈeɪduː</phoneme></lexeme>
  <lexeme><grapheme>Uchenna</grapheme><phoneme>uːtʃˈɛnɑː</phoneme></lexeme>
  <lexeme><grapheme>Ikechukwu</grapheme><phoneme>iːkeɪtʃˈuːkwuː</phoneme></lexeme>
  <lexeme><grapheme>Tunde</grapheme><phoneme>tˈuːndeɪ</phoneme></lexeme>
  <lexeme><grapheme>Bukola</grapheme><phoneme>bˈuːkoʊlɑː</phoneme></lexeme>
  <lexeme><grapheme>Folake</grapheme><phoneme>foʊlˈɑːkeɪ</phoneme></lexeme>
  <lexeme><grapheme>Kehinde</grapheme><phoneme>keɪhˈiːndeɪ</phoneme></lexeme>
  <lexeme><grapheme>Funmilayo</grapheme><phoneme>fuːnmiːlˈɑːjoʊ</phoneme></lexeme>
  <lexeme><grapheme>Nkechi</grapheme><phoneme>ŋkˈeɪtʃi</phoneme></lexeme>
  <lexeme><grapheme>Ifeoma</grapheme><phoneme>iːfeɪˈoʊmɑː</phoneme></lexeme>
  <lexeme><grapheme>Obinna</grapheme><phoneme>oʊbˈiːnɑː</phoneme></lexeme>
  <lexeme><grapheme>Chidinma</grapheme><phoneme>tʃiːdˈiːnmɑː</phoneme></lexeme>
  <lexeme><grapheme>Chiamaka</grapheme><phoneme>tʃiːɑːmˈɑːkɑː</phoneme></lexeme>
  <lexeme><grapheme>Segun</grapheme><phoneme>ʃˈeɪɡuːn</phoneme></lexeme>
  <lexeme><grapheme>Tolu</grapheme><phoneme>tˈoʊluː</phoneme></lexeme>
  <lexeme><grapheme>Taiwo</grapheme><phoneme>tˈaɪwoʊ</phoneme></lexeme>
  <lexeme><grapheme>Oyinkansola</grapheme><phoneme>oʊjiːŋkɑːnsˈoʊlɑː</phoneme></lexeme>
  <lexeme><grapheme>Abubakar</grapheme><phoneme>ɑːbuːbˈɑːkɑːɹ</phoneme></lexeme>
  <lexeme><grapheme>Abuja</grapheme><phoneme>ɑːbˈuːdʒɑː</phoneme></lexeme>
  <lexeme><grapheme>Ibadan</grapheme><phoneme>iːbˈɑːdɑːn</phoneme></lexeme>
  <lexeme><grapheme>Onitsha</grapheme><phoneme>oʊnˈiːtʃɑː</phoneme></lexeme>
  <lexeme><grapheme>Owerri</grapheme><phoneme>oʊwˈɛɹi</phoneme></lexeme>
  <lexeme><grapheme>Osogbo</grapheme><phoneme>oʊʃˈɔːɡboʊ</phoneme></lexeme>
  <lexeme><grapheme>Ikeja</grapheme><phoneme>iːkˈeɪdʒɑː</phoneme></lexeme>
  <lexeme><grapheme>Ajah</grapheme><phoneme>ˈɑːdʒɑː</phoneme></lexeme>
  <lexeme><grapheme>Surulere</grapheme><phoneme>suːɹuːlˈeɪɹeɪ</phoneme></lexeme>
  <lexeme><grapheme>Abeokuta</grapheme><phoneme>ɑːbeɪoʊkˈuːtɑː</phoneme></lexeme>
  <lexeme><grapheme>Ilorin</grapheme><phoneme>iːlˈoʊɹiːn</phoneme></lexeme>
  <lexeme><grapheme>Kaduna</grapheme><phoneme>kɑːdˈuːnɑː</phoneme></lexeme>
  <lexeme><grapheme>Maiduguri</grapheme><phoneme>maɪdˈuːɡuːɹi</phoneme></lexeme>
  <lexeme><grapheme>Sokoto</grapheme><phoneme>sˈoʊkoʊtoʊ</phoneme></lexeme>
  <lexeme><grapheme>Nsukka</grapheme><phoneme>ənsˈuːkɑː</phoneme></lexeme>
  <lexeme><grapheme>Agege</grapheme><phoneme>ɑːɡˈeɪɡeɪ</phoneme></lexeme>
  <lexeme><grapheme>Ikorodu</grapheme><phoneme>iːkˈoʊɹoʊduː</phoneme></lexeme>
  <lexeme><grapheme>Gbagada</grapheme><phoneme>ɡbˈɑːɡɑːdɑː</phoneme></lexeme>
  <lexeme><grapheme>Akure</grapheme><phoneme>ɑːkˈuːɹeɪ</phoneme></lexeme>
  <lexeme><grapheme>Umuahia</grapheme><phoneme>uːmuːɑːhˈiːɑː</phoneme></lexeme>
  <lexeme><grapheme>Abakaliki</grapheme><phoneme>ɑːbɑːkɑːlˈiːki</phoneme></lexeme>
  <lexeme><grapheme>Imo</grapheme><phoneme>ˈiːmoʊ</phoneme></lexeme>
  <lexeme><grapheme>Oyo</grapheme><phoneme>ˈoʊjoʊ</phoneme></lexeme>
  <lexeme><grapheme>Ogun</grapheme><phoneme>ˈoʊɡuːn</phoneme></lexeme>
  <lexeme><grapheme>Anambra</grapheme><phoneme>ɑːnˈɑːmbɹɑː</phoneme></lexeme>
  <lexeme><grapheme>Ebonyi</grapheme><phoneme>eɪbˈɔːnji</phoneme></lexeme>
  <lexeme><grapheme>Bayelsa</grapheme><phoneme>bɑːjˈɛlsɑː</phoneme></lexeme>
  <lexeme><grapheme>Ijebu</grapheme><phoneme>iːdʒˈeɪbuː</phoneme></lexeme>
  <lexeme><grapheme>Ife</grapheme><phoneme>ˈiːfeɪ</phoneme></lexeme>
</lexicon>
