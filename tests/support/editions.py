"""Two versions of a small questionnaire, with each kind of change between them.

v1 -> v2: `name` kept; `staff` changes type (text -> integer); `kind`'s value
'pubblico' is renamed 'comunale' (previous_values); `referente` is renamed
`contact_name` (previous_id); `fax` is removed; `budget` is added (required);
`open_saturday` is kept. In the repeat `services`, `service_name` is kept and
`service_kind` drops the value 'altro' without a mapping.
"""

from __future__ import annotations

V1 = """
id: centres
version: "1"
languages: [it, en]
title: {it: "Centri per le famiglie", en: "Family centres"}
deadline: 2030-12-31T23:59:00+01:00
sections:
  - id: main
    title: {it: "Il centro", en: "The centre"}
    items:
      - {id: name, type: text, text: {it: "Nome del centro?", en: "Name of the centre?"}}
      - id: staff
        type: text
        text: {it: "Quante persone ci lavorano?", en: "How many people work there?"}
      - id: kind
        type: single_choice
        text: {it: "Gestione?", en: "Management?"}
        choices:
          - {value: pubblico, label: {it: "Pubblica", en: "Public"}}
          - {value: privato, label: {it: "Privata", en: "Private"}}
      - {id: referente, type: text, text: {it: "Referente?", en: "Contact person?"}}
      - {id: fax, type: text, required: false, text: {it: "Fax?", en: "Fax?"}}
      - {id: open_saturday, type: yes_no, text: {it: "Aperto il sabato?", en: "Open on Saturdays?"}}
  - id: more
    title: {it: "Servizi", en: "Services"}
    items:
      - kind: repeat
        id: services
        text: {it: "Servizio", en: "Service"}
        add_prompt: {it: "Aggiungi un altro servizio?", en: "Add another service?"}
        max_entries: 3
        label_item: service_name
        items:
          - {id: service_name, type: text, text: {it: "Nome del servizio?", en: "Service name?"}}
          - id: service_kind
            type: single_choice
            text: {it: "Tipo di servizio?", en: "Kind of service?"}
            choices:
              - {value: consulenza, label: {it: "Consulenza", en: "Counselling"}}
              - {value: altro, label: {it: "Altro", en: "Other"}}
"""

V2 = """
id: centres
version: "2"
languages: [it, en]
title: {it: "Centri per le famiglie", en: "Family centres"}
deadline: 2030-12-31T23:59:00+01:00
sections:
  - id: main
    title: {it: "Il centro", en: "The centre"}
    items:
      - {id: name, type: text, text: {it: "Nome del centro?", en: "Name of the centre?"}}
      - id: staff
        type: integer
        text: {it: "Quante persone ci lavorano?", en: "How many people work there?"}
        validation: {min: 0, max: 500}
      - id: kind
        type: single_choice
        text: {it: "Gestione?", en: "Management?"}
        choices:
          - {value: comunale, previous_values: [pubblico], label: {it: "Comunale", en: "Municipal"}}
          - {value: privato, label: {it: "Privata", en: "Private"}}
      - id: contact_name
        previous_id: referente
        type: text
        text: {it: "Nome del referente?", en: "Name of the contact person?"}
      - id: budget
        type: amount
        text: {it: "Bilancio annuo, in euro?", en: "Yearly budget, in euros?"}
      - {id: open_saturday, type: yes_no, text: {it: "Aperto il sabato?", en: "Open on Saturdays?"}}
  - id: more
    title: {it: "Servizi", en: "Services"}
    items:
      - kind: repeat
        id: services
        text: {it: "Servizio", en: "Service"}
        add_prompt: {it: "Aggiungi un altro servizio?", en: "Add another service?"}
        max_entries: 3
        label_item: service_name
        items:
          - {id: service_name, type: text, text: {it: "Nome del servizio?", en: "Service name?"}}
          - id: service_kind
            type: single_choice
            text: {it: "Tipo di servizio?", en: "Kind of service?"}
            choices:
              - {value: consulenza, label: {it: "Consulenza", en: "Counselling"}}
              - {value: laboratorio, label: {it: "Laboratorio", en: "Workshop"}}
"""

# constraint, warn_if and a computed note, as an officer meets them.
CHECKS = """
id: funding
version: "1"
languages: [it, en]
title: {it: "Finanziamenti 2030", en: "Funding 2030"}
welcome: {it: "Rilevazione di prova.", en: "A test survey."}
contacts:
  - name: {it: "Ufficio prove", en: "Test office"}
    phone: ["011 7654321"]
    email: prove@example.it
    hours: {it: "lun-ven 9-13", en: "Mon-Fri 9-13"}
deadline: 2030-12-31T23:59:00+01:00
sections:
  - id: money
    title: {it: "Fondi", en: "Funds"}
    items:
      - id: started
        type: date
        text: {it: "Data di inizio?", en: "Start date?"}
        constraint: ". <= today()"
        constraint_message: {it: "La data di inizio non può essere nel futuro.",
                             en: "The start date cannot be in the future."}
      - id: total
        type: amount
        text: {it: "Importo totale?", en: "Total amount?"}
        warn_if: ". > 1000000"
        warn_message: {it: "Più di 1.000.000 €: è corretto?", en: "Over €1,000,000: correct?"}
      - id: share
        type: amount
        text: {it: "Di cui dal fondo nazionale?", en: "Of which from the national fund?"}
        constraint: ". <= total"
        constraint_message: {it: "La quota non può superare il totale.",
                             en: "The share cannot exceed the total."}
      - id: recap
        type: note
        text: {it: "Restano ${ total - share } da altri fondi.",
               en: "${total - share} come from other funds."}
      - id: notes
        type: text
        required: false
        text: {it: "Note?", en: "Notes?"}
"""
